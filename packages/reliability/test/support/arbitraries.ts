import fc from "fast-check";

/** Any JavaScript value, including the awkward ones (null prototypes, typed arrays, maps). */
export const anyValue = fc.anything({
  withBigInt: true,
  withNullPrototype: true,
  withTypedArray: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withSparseArray: true,
  withBoxedValues: true,
});

/** Strings with the characters that break parsers: NUL, newlines, quotes, unicode, slashes. */
export const nastyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "",
    " ",
    "\0",
    "a\0b",
    "..",
    "/..",
    "../etc",
    "-rf",
    "$(id)",
    "`id`",
    "\u202e",
    "é",
    "\ud800",
  ),
  fc.string({ maxLength: 300 }),
);

const sometimes = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: anyValue });

const envArb = fc.oneof(
  fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/), fc.string({ maxLength: 20 })),
  fc.dictionary(nastyString, sometimes(nastyString)),
);

/** Policies of every kind: valid ones, wrong types and ranges, unknown fields, non-objects. */
export const policyArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        memory: sometimes(fc.oneof(fc.integer({ min: -1, max: 2 ** 33 }), fc.double())),
        cpu: sometimes(fc.oneof(fc.double({ min: -2, max: 2000 }), fc.integer())),
        networkIsolation: sometimes(fc.boolean()),
        readOnlyRootfs: sometimes(fc.boolean()),
        pids: sometimes(fc.integer({ min: -5, max: 5_000_000 })),
        minimumIsolation: sometimes(
          fc.constantFrom("none", "container", "user-kernel", "vm", "VM"),
        ),
        image: sometimes(nastyString),
        env: sometimes(envArb),
        workdir: sometimes(fc.oneof(nastyString, fc.constantFrom("/", "/tmp", "/a/../b", "rel"))),
        user: sometimes(
          fc.oneof(nastyString, fc.constantFrom("0", "1000:1000", "nobody", "root:x")),
        ),
        labels: sometimes(fc.dictionary(nastyString, sometimes(nastyString), { maxKeys: 4 })),
        ttlMs: sometimes(fc.oneof(fc.integer({ min: -10, max: 10 ** 10 }), fc.double())),
        unknownField: anyValue,
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.dictionary(nastyString, anyValue, { maxKeys: 5 }) },
  { weight: 1, arbitrary: anyValue },
);

/** argv and exec options, valid or not. */
export const argvArb = fc.oneof(
  { weight: 4, arbitrary: fc.array(nastyString, { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.array(anyValue, { maxLength: 4 }) },
  { weight: 1, arbitrary: anyValue },
);

export const execOptionsArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      {
        env: sometimes(envArb),
        cwd: sometimes(fc.oneof(nastyString, fc.constantFrom("/", "/tmp", "x"))),
        stdin: sometimes(fc.oneof(fc.string({ maxLength: 20 }), fc.uint8Array({ maxLength: 20 }))),
        timeoutMs: sometimes(fc.integer({ min: -1, max: 5_000 })),
        maxOutputBytes: sometimes(fc.integer({ min: -1, max: 1 << 20 })),
        onStdout: sometimes(fc.constant(() => {})),
        unknownField: anyValue,
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: anyValue },
);

/** Session ids: well-formed but unknown, almost well-formed, and anything at all. */
export const sessionIdArb = fc.oneof(
  fc.stringMatching(/^[a-z0-9][a-z0-9-]{2,62}$/),
  fc.stringMatching(/^cadre-[0-9a-f]{16}$/),
  nastyString,
  anyValue,
);

/** The `isolation` section of cadre.config.json, valid or not. */
export function isolationConfigArb(stateDirs: fc.Arbitrary<string>) {
  const absolute = fc.oneof(
    fc.constantFrom("/nonexistent/cadre-fuzz.sock", "/nonexistent/dir"),
    nastyString,
  );
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record(
        {
          provider: sometimes(fc.constantFrom("stub", "docker", "kata", "firecracker")),
          stub: sometimes(
            fc.record(
              {
                acknowledgeNoIsolation: sometimes(fc.constant(true)),
                stateDir: sometimes(stateDirs),
                enforcement: sometimes(fc.constantFrom("strict", "advisory")),
              },
              { requiredKeys: [] },
            ),
          ),
          docker: sometimes(
            fc.record(
              {
                socketPath: sometimes(absolute),
                host: sometimes(nastyString),
                port: sometimes(fc.integer({ min: -1, max: 70_000 })),
                runtime: sometimes(fc.constantFrom("runc", "runsc", "kata")),
                image: sometimes(nastyString),
                labelPrefix: sometimes(nastyString),
              },
              { requiredKeys: [] },
            ),
          ),
          kata: sometimes(
            fc.record(
              {
                address: sometimes(absolute),
                namespace: sometimes(nastyString),
                runtime: sometimes(nastyString),
                fifoDir: sometimes(stateDirs),
                unsafeUseStandInShim: sometimes(fc.boolean()),
              },
              { requiredKeys: [] },
            ),
          ),
          pool: sometimes(
            fc.record({ size: sometimes(fc.integer({ min: -1, max: 100 })) }, { requiredKeys: [] }),
          ),
        },
        { requiredKeys: [] },
      ),
    },
    { weight: 1, arbitrary: anyValue },
  );
}
