# Node.js 22 with npm, yarn, pnpm, TypeScript and its language server, prettier
{ pkgs }:
with pkgs; [
  nodejs_22
  yarn
  pnpm
  typescript
  typescript-language-server
  nodePackages.prettier
]
