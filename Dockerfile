# One image for the four services; SERVICE picks which one runs.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
ARG SERVICE=batch-submitter
ENV SERVICE=${SERVICE}
# V8's old-space limit in MB: keeps a service's peak RSS under 256 MB (see docs/benchmarks.md).
ENV NODE_HEAP_MB=160
CMD ["sh", "-c", "exec node --max-old-space-size=${NODE_HEAP_MB} dist/apps/${SERVICE}/src/main.js"]
