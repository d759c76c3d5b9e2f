/** Injection tokens for platform values that are not classes. */
export const SERVICE_CONFIG = Symbol('SERVICE_CONFIG');
export const KAFKA = Symbol('KAFKA');
export const KAFKA_ADMIN = Symbol('KAFKA_ADMIN');
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
