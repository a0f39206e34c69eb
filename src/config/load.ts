import { readFileSync } from 'node:fs';
import { MomError } from '../core/errors';
import { SETTINGS, type BrokerConfig } from './settings';

export interface ConfigSources {
  /** Values given as flags, keyed by config key (commander's camelCase of the flag). */
  flags?: Partial<Record<keyof BrokerConfig, unknown>>;
  env?: NodeJS.ProcessEnv;
  /** Path of a JSON config file. */
  file?: string;
}

/** Builds the config: flags > environment > file > defaults; every value validated, bad ones named. */
export function loadConfig(sources: ConfigSources = {}): BrokerConfig {
  const fileValues = sources.file ? readConfigFile(sources.file) : {};
  const env = sources.env ?? {};
  const flags = sources.flags ?? {};
  const config: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const fromFlag = flags[setting.key];
    const fromEnv = env[setting.env];
    const fromFile = fileValues[setting.key];
    if (fromFlag !== undefined) config[setting.key] = setting.parse(fromFlag, `--${setting.flag}`);
    else if (fromEnv !== undefined && fromEnv !== '') config[setting.key] = setting.parse(fromEnv, setting.env);
    else if (fromFile !== undefined) config[setting.key] = setting.parse(fromFile, `${sources.file}: ${setting.key}`);
    else config[setting.key] = setting.default;
  }
  const result = config as unknown as BrokerConfig;
  if (result.roles.includes('replicator') && !result.roles.includes('node')) {
    throw new MomError('config_invalid', 'role: replicator needs node in the same process (use --role node,replicator)');
  }
  if (result.roles.includes('all') && result.roles.length > 1) {
    throw new MomError('config_invalid', 'role: all already runs every role; do not combine it with others');
  }
  return result;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MomError('config_invalid', `config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MomError('config_invalid', `config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MomError('config_invalid', `config file ${path} must hold a JSON object`);
  }
  const known = new Set<string>(SETTINGS.map((s) => s.key));
  // Keys starting with "//" or "$" are comments (JSON has none of its own).
  const unknown = Object.keys(parsed).filter((key) => !known.has(key) && !key.startsWith('//') && !key.startsWith('$'));
  if (unknown.length > 0) {
    throw new MomError('config_invalid', `config file ${path}: unknown key(s) ${unknown.join(', ')}; known keys are ${[...known].join(', ')}`);
  }
  return parsed as Record<string, unknown>;
}
