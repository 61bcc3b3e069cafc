export { ConfigSchema, RoleName, roleNames, envNameOf, type Config } from './schema.js';
export { loadConfig, ConfigError, type LoadConfigOptions } from './load.js';
