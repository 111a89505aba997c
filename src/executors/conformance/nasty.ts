/** Arguments a shell would mangle: each must arrive exactly as given. */
export const NASTY_ARGS: readonly string[] = [
  'with space',
  "single ' quote",
  'double " quote',
  '$(touch pwned-subst)',
  '`touch pwned-backtick`',
  'a; touch pwned-semicolon',
  'line one\nline two',
  `$HOME \${PATH}`,
  '*',
  '',
  '-n',
  'back\\slash',
  '| cat > pwned-pipe',
  'ünïcødé ✓',
];
