// Types for hero-client.mjs, the ES module build: the same class as hero-client.d.ts describes.
import HeroClient = require("./hero-client.js");

export default HeroClient;
export { HeroClient };
