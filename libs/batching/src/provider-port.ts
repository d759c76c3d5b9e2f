/** One request line as the provider receives it (`custom_id` = our request id). */
export interface BatchInputLine {
  customId: string;
  body: Record<string, unknown>;
}

/** A provider batch as submission sees it. */
export interface ProviderBatchRef {
  providerBatchId: string;
  inputFileId: string;
  /** The provider's status when it was read (validating, in_progress, completed, failed, cancelled, …). */
  status: string;
  /** Unix seconds. */
  createdAt: number;
}

/** A provider batch that carries one of our batch keys (what the provider sweep reads). */
export interface KeyedProviderBatch extends ProviderBatchRef {
  batchKey: string;
}

/** An input file we uploaded, recognised by its name (written after the batch key). */
export interface UploadedInputFile {
  fileId: string;
  batchKey: string;
  /** Unix seconds. */
  createdAt: number;
}

/**
 * What submission needs from the provider. Creating is not idempotent at the provider, so the caller
 * records a deterministic key first, asks `findByKey` before ever creating again, and uploads and creates
 * in two steps so that a failed create reuses the file already uploaded.
 */
export interface BatchProviderPort {
  /**
   * Every provider batch made for `batchKey`, newest first. `hint` is what the intent recorded (when, how many
   * lines): a provider whose batches carry no metadata narrows its search with it.
   */
  findByKey(batchKey: string, hint?: { sinceSeconds: number; lines: number }): Promise<ProviderBatchRef[]>;
  /** Writes the lines as one JSONL input file, read once, in order, and uploads it; returns the file id. */
  upload(request: { batchKey: string; lines: Iterable<BatchInputLine> | AsyncIterable<BatchInputLine> }): Promise<string>;
  /**
   * Creates the batch; an unanswered create is looked up by key before it is made again, and only while
   * `mayCreate` (asked before each further create) says the caller still may.
   */
  create(request: { batchKey: string; inputFileId: string; metadata: Record<string, string>; mayCreate?: () => Promise<boolean> }): Promise<ProviderBatchRef>;
  /** Asks the provider to cancel a batch we will not use; returns its status after the request. */
  cancel(providerBatchId: string): Promise<string>;
  retrieve(providerBatchId: string): Promise<ProviderBatchRef>;
  deleteFile(fileId: string): Promise<void>;
  /** Provider batches carrying a batch key, newest first, back to `sinceSeconds` (unix) or as far as the provider lists. */
  listKeyed(options?: { sinceSeconds?: number }): AsyncIterable<KeyedProviderBatch>;
  /** Input files named after one of our batch keys. */
  listInputFiles(): Promise<UploadedInputFile[]>;
}
