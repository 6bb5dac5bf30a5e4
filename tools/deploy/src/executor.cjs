// Nx require()s executor implementations and registers a TS transpiler only when ts-node or
// @swc-node/register is installed (neither is here), so this shim registers tsx's ESM loader and
// imports the TypeScript executor. (tsx's CJS `tsImport` resolves its own files wrongly in 4.23.)
let loaded;
module.exports = async function deployExecutor(options, context) {
  loaded ??= import('tsx/esm/api').then(({ register }) => {
    register();
    return import(new URL('executor.ts', `file://${__dirname}/`).href);
  });
  const mod = await loaded;
  return mod.default(options, context);
};
