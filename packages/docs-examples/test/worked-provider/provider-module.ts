// What cadre-runtime and the suite's owner process import, bundled by the test into one plain ES
// module: importing it registers the provider; its default export builds one on the options the
// test passes in CADRE_MINI_DOCKER_OPTIONS.
import { registerProvider } from "@cadre/agent-runtime";
import { MiniDockerProvider, providerDescriptor } from "./mini-docker-provider.js";

registerProvider(providerDescriptor);

export default () =>
  new MiniDockerProvider(JSON.parse(process.env.CADRE_MINI_DOCKER_OPTIONS ?? "{}"));
