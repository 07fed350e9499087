const wrapper = new URL("./kata-on-this-host.mjs", import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === "@cadre/agent-runtime-provider-kata" && context.parentURL !== wrapper) {
    return { url: wrapper, shortCircuit: true };
  }
  return next(specifier, context);
}
