/** One request line as the provider receives it (`custom_id` = our request id). */
export interface BatchInputLine {
  customId: string;
  body: Record<string, unknown>;
}

export interface SubmittedProviderBatch {
  providerBatchId: string;
  inputFileId: string;
}

/**
 * What submission needs from the provider. Creating is not idempotent at the provider, so the
 * caller records a deterministic key first and asks `findByKey` before ever creating again.
 */
export interface BatchProviderPort {
  findByKey(batchKey: string): Promise<SubmittedProviderBatch | null>;
  submit(request: {
    batchKey: string;
    /** Read once, in order (a generator: bodies are built while the input file is written). */
    lines: Iterable<BatchInputLine>;
    metadata: Record<string, string>;
  }): Promise<SubmittedProviderBatch>;
  /** Cancels a batch we created but will not use (another replica recorded its own for the same key). */
  cancel(providerBatchId: string): Promise<void>;
}
