export { ConfigSchema, RoleName, roleNames, envNameOf, crossSettingProblems, type Config } from './schema.js';
export { loadConfig, ConfigError, type LoadConfigOptions } from './load.js';
