// `pm2 start ecosystem.config.js`: this package is ESM ("type": "module"), so pm2's require() of
// this file loads it as an ES module (require(esm), Node >= 20.19); the string export name
// "module.exports" makes require() return the config itself. The config lives in the .cjs file.
import config from './ecosystem.config.cjs';

export default config;
export { config as 'module.exports' };
