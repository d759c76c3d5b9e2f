# One image for the four services; SERVICE picks which one runs.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools
COPY scripts ./scripts
COPY prompts ./prompts
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Prompt versions are read from files at run time, found as the nearest prompts/ folder above dist/.
COPY --from=build /app/prompts ./prompts
USER node
ARG SERVICE=batch-submitter
ENV SERVICE=${SERVICE}
# NODE_HEAP_MB, when set, is V8's old-space limit in MB (the poller's keeps its peak RSS under 256 MB: docs/benchmarks.md).
CMD ["sh", "-c", "exec node ${NODE_HEAP_MB:+--max-old-space-size=$NODE_HEAP_MB} dist/apps/${SERVICE}/src/main.js"]
