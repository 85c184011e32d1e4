export interface TreeNode {
  readonly label: string;
  readonly children?: readonly TreeNode[];
}

/** The root on the first line, then its descendants indented under box-drawing branches. */
export function tree(root: TreeNode): string {
  return [root.label, ...branches(root.children ?? [], '')].join('\n') + '\n';
}

function branches(nodes: readonly TreeNode[], indent: string): string[] {
  return nodes.flatMap((node, i) => {
    const last = i === nodes.length - 1;
    return [
      `${indent}${last ? '└─ ' : '├─ '}${node.label}`,
      ...branches(node.children ?? [], `${indent}${last ? '   ' : '│  '}`),
    ];
  });
}
