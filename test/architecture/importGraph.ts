/**
 * The repository's import graph as the TypeScript compiler parses it: static imports, re-exports
 * and dynamic `import()` with a literal specifier. `import type` / `export type` statements are
 * left out (erased at compile time); `import { type X }` is kept, since with
 * verbatimModuleSyntax it still loads the module.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

import ts from "typescript";

import { isNodeBuiltin, REPO_ROOT } from "./browserBuild.js";

export type ImportEdge = { from: string; specifier: string; kind: "static" | "dynamic"; resolved?: string };

export function importsOf(file: string): ImportEdge[] {
  const absolute = resolve(REPO_ROOT, file);
  const source = ts.createSourceFile(absolute, readFileSync(absolute, "utf8"), ts.ScriptTarget.Latest, true);
  const edges: ImportEdge[] = [];
  const add = (specifier: string, kind: ImportEdge["kind"]) => edges.push({ from: file, specifier, kind, resolved: resolveRelative(file, specifier) });
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.importClause?.isTypeOnly) add(node.moduleSpecifier.text, "static");
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.isTypeOnly) add(node.moduleSpecifier.text, "static");
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteralLike(argument)) add(argument.text, "dynamic");
      else edges.push({ from: file, specifier: `<computed: ${argument?.getText(source) ?? ""}>`, kind: "dynamic" });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      if (!node.isTypeOnly) add(node.moduleReference.expression.text, "static");
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

/** `./x.js` from `dir/file.ts` → `dir/x.ts` (repository-relative); undefined for bare specifiers. */
function resolveRelative(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const base = join(dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, ".ts"), base.replace(/\.js$/, ".tsx"), base, `${base}.ts`, join(base, "index.ts")];
  return candidates.find((candidate) => existsSync(join(REPO_ROOT, candidate)) && statSync(join(REPO_ROOT, candidate)).isFile()) ?? base;
}

/** Every repository file reachable from `roots`, with the chain of files that leads to it. */
export function reachable(roots: readonly string[]): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  const queue: string[] = [];
  for (const root of roots) {
    chains.set(root, [root]);
    queue.push(root);
  }
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (!/\.tsx?$/.test(file) || !existsSync(join(REPO_ROOT, file))) continue;
    for (const edge of importsOf(file)) {
      if (!edge.resolved || chains.has(edge.resolved)) continue;
      chains.set(edge.resolved, [...chains.get(file)!, edge.resolved]);
      queue.push(edge.resolved);
    }
  }
  return chains;
}

/** The Node built-ins (and non-literal dynamic imports) reached from `roots`, each with the chain leading to it. */
export function nodeImportsFrom(roots: readonly string[]): string[] {
  const offences: string[] = [];
  for (const [file, chain] of reachable(roots)) {
    if (!/\.tsx?$/.test(file) || !existsSync(join(REPO_ROOT, file))) continue;
    for (const edge of importsOf(file)) {
      if (isNodeBuiltin(edge.specifier) || edge.specifier.startsWith("<computed")) {
        offences.push(`${file} imports ${edge.specifier}${edge.kind === "dynamic" ? " (dynamic)" : ""}  [${chain.join(" → ")}]`);
      }
    }
  }
  return offences.sort();
}

/** TypeScript files under `dir` (repository-relative), skipping `exclude` prefixes. */
export function sourceFiles(dir: string, exclude: readonly string[] = []): string[] {
  const out: string[] = [];
  const walk = (relativeDir: string) => {
    for (const entry of readdirSync(join(REPO_ROOT, relativeDir), { withFileTypes: true })) {
      const path = join(relativeDir, entry.name);
      if (exclude.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) continue;
      if (entry.isDirectory()) walk(path);
      else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
    }
  };
  walk(dir);
  return out.sort();
}

/** Direct imports from files under `fromDir` into `toDir` (both repository-relative folders). */
export function importsBetween(fromDir: string, toDir: string): string[] {
  return sourceFiles(fromDir).flatMap((file) =>
    importsOf(file).filter((edge) => edge.resolved !== undefined && (edge.resolved === toDir || edge.resolved.startsWith(`${toDir}/`))).map((edge) => `${file} imports ${edge.specifier}`),
  );
}

export function repoRelative(path: string): string {
  return relative(REPO_ROOT, path);
}
