import type { PolicyField } from "@cadre/agent-runtime-contract";

/**
 * Titles of the suite's tests, by area. Tests are registered under
 * `conformance: <name>` > `<area>` > `<title>`. The self-test and providers' own tests may refer
 * to these constants instead of copying the strings.
 */
export const conformanceTestNames = {
  lifecycle: {
    startRunning: "startSession returns an id that getSession reports as running [MUST]",
    execRuns: "exec runs a command in a running session [MUST]",
    sessionInfo: "getSession reports state, policy, labels and createdAt [MUST]",
    stopStops: "stopSession stops the session and exec then fails with SESSION_NOT_RUNNING [MUST]",
    stopTwice: "stopSession twice resolves both times [MUST]",
    stopUnknown: "stopSession on an unknown well-formed id resolves [MUST]",
    destroyRunning:
      "destroySession removes a running session: getSession then tells it ended, destroyed by its owner [MUST]",
    destroyStopped:
      "destroySession removes a stopped session, whose end stays the stop by its owner [MUST]",
    destroyTwice: "destroySession twice resolves and the session stays gone [MUST]",
    destroyUnknown: "destroySession on an unknown well-formed id resolves [MUST]",
    execAfterDestroy: "exec after destroySession fails with SESSION_NOT_FOUND [MUST]",
    listReportsState:
      "listSessions reports each session with its state, and drops destroyed ones [MUST]",
    listFilters: "listSessions filters by labels [MUST]",
    listFromBackend:
      "a second provider instance lists the same sessions (state lives in the backend) [MUST]",
  },
  exec: {
    exitCodes: "exit codes 0, 3 and 255 come back as results [MUST]",
    stdoutStderrApart: "stdout and stderr are kept apart, also when interleaved [MUST]",
    callbacksApart:
      "onStdout and onStderr receive exactly the kept bytes of their own stream [MUST]",
    streaming:
      "onStdout receives output before the command ends, or the report says features.streaming is false and the result is still complete [MUST]",
    env: "exec env reaches the command and wins over policy.env [MUST]",
    cwd: "cwd sets the working directory [MUST]",
    stdinText: "stdin text reaches the command, then EOF [MUST]",
    stdinAbsent: "without stdin the command reads EOF at once [MUST]",
    binaryRoundTrip:
      "binary stdin comes back byte for byte through cat (2 MiB, every byte value) [MUST]",
    invalidUtf8:
      "output that is not valid UTF-8 decodes with U+FFFD and does not break the result [MUST]",
    largeOutput: "several MB of output arrive intact and in order [MUST]",
    noShell: "argv reaches the program literally, without a shell ($HOME ; * quotes) [MUST]",
    missingProgram: "a program that does not exist gives a non-zero result, not a crash [MUST]",
    missingProgram127: "a program that does not exist gives exit code 127 [SHOULD]",
    timeout: "a timeout ends the command with timedOut and leaves no process behind [MUST]",
    abort: "an abort rejects with the signal's reason and leaves no process behind [MUST]",
    outputCapEndless:
      "maxOutputBytes caps an endless writer: truncated, kept bytes within the cap [MUST]",
    outputCapDrains: "past maxOutputBytes the output is drained, so the command finishes [MUST]",
    outputCapShared: "maxOutputBytes caps stdout and stderr together [MUST]",
    parallel: "parallel execs in one session each get their own result [MUST]",
    causes:
      "every result carries one cause that agrees with it: exited, a signal with its name, a timeout with its limit and duration [MUST]",
  },
  policy: {
    invalidPaths:
      "a bad policy gives POLICY_INVALID naming every bad path, and creates nothing [MUST]",
    notAnObject: "a policy that is not an object gives POLICY_INVALID [MUST]",
    unknownFields:
      "unknown fields give CAPABILITY_MISMATCH listing each, and create nothing [MUST]",
    allListed: "every unsupported field of one policy is listed in unsupportedPolicies [MUST]",
    isolationAbove:
      'minimumIsolation above the provider\'s level gives CAPABILITY_MISMATCH; at "vm" (the strongest) "vm" starts a session [MUST]',
    isolationEqual: "minimumIsolation at the provider's own level is accepted [MUST]",
    badArgv: "an empty argv, non-string items and NUL bytes give POLICY_INVALID [MUST]",
    badExecOptions: "malformed exec options give POLICY_INVALID [MUST]",
    badSessionIds: "malformed and unknown session ids give SESSION_NOT_FOUND [MUST]",
  },
  enforcement: {
    /**
     * One test per policy field: the adversarial probe when the report says the field is
     * enforced, otherwise CAPABILITY_MISMATCH naming exactly that field and nothing created.
     */
    field: (field: PolicyField) =>
      `policy field ${field}: enforced as the report says (adversarial probe), or refused with CAPABILITY_MISMATCH and nothing created [MUST]`,
    missingImage:
      "an image that does not exist fails with a typed error and creates nothing; without image support the image field is refused [MUST]",
  },
  isolation: {
    files:
      'a file written in one session is not visible in another, or the report says isolation "none" and refuses "container" [MUST]',
    processes:
      'the processes of one session are not visible in another, or the report says isolation "none" and refuses "container" [MUST]',
  },
  concurrency: {
    manySessions: "concurrent sessions, each with parallel execs, all get correct results [MUST]",
  },
  cleanup: {
    noLeftoversAfterDestroy: "after destroySession the backend holds nothing of the session [MUST]",
    reapKilledOwner: "reap removes the session of an owner killed with SIGKILL [MUST]",
    reapSparesLiveOwner: "reap leaves the sessions of a live owner alone [MUST]",
    reapExpired:
      "reap removes a session whose ttlMs ran out after its owner closed, or ttlMs is refused when not enforced [MUST]",
  },
  report: {
    schema: "capabilities() parses with capabilityReportSchema [MUST]",
    providerId: "the report's providerId equals provider.id [MUST]",
    specificationVersion: 'specificationVersion is "isolation-provider/v1" [MUST]',
    noAdvisory: "no field is merely advisory (advisory mode is not conformant) [MUST]",
    ttlFeature: "features.ttl agrees with policy.ttlMs [SHOULD]",
    persistent: "features.persistentSessions is true [SHOULD]",
    doctor: "doctor() exists and reports ready for this provider [SHOULD]",
  },
  hostile: {
    foreignObjects:
      "no method acts on a backend object that is not one of this provider's sessions: a foreign container, another deployment's session, a name and label that disagree [MUST]",
    longTtl:
      "the longest ttlMs the schema allows does not fire early: the session outlives a command of a few seconds [MUST]",
    secretsNotListed:
      "env values never reach backend labels, getSession or listSessions; env names do [MUST]",
    deadlineEscape:
      "a command that clears its environment, calls setsid and double-forks settles by its deadline plus the grace, and the result says honestly whether all of it was killed [MUST]",
    replacedHelpers:
      "a tenant that replaces /bin/sh and cat with endless writers cannot stall an exec: it still settles by its deadline plus the grace [MUST]",
    network:
      "without networkIsolation, sessions reach neither each other nor the host, as the report's defaults.network says [MUST]",
    defaults:
      "a session with an empty policy gets the reported defaults: pids, /tmp size and open files [MUST]",
    otherPidNamespace:
      "reap leaves alone a session whose owner runs in another PID namespace, alive or killed, since it cannot judge it from here [MUST]",
    boundary:
      "the boundary the report claims holds inside the session: no capabilities, NoNewPrivs and seccomp, own namespaces or own kernel, no host devices, masked /proc and /sys, no engine socket [MUST]",
    sessionInit:
      "a command can neither signal, read the memory of nor reach the stdio of its session's PID 1 or its own parent, and the session goes on serving [MUST]",
  },
  edges: {
    numericLimits:
      "memory, cpu and pids at the report's limits start a session that runs a command; past them, or when not enforced, CAPABILITY_MISMATCH [MUST]",
    missingUser:
      "a user the image does not have is POLICY_INVALID at path user, and nothing is left [MUST]",
    missingImage:
      "an image the host does not have is PROVIDER_UNAVAILABLE with a failed check, and nothing is left [MUST]",
    expiredTtl:
      "once a session's TTL ran out, exec gives SESSION_NOT_FOUND, never an exit code, and getSession tells it ended for its TTL [MUST]",
    sizesAtLimits:
      "labels, env and argv exactly at the contract's size limits start a session that runs the command and lists them back [MUST]",
    sizesPastLimits:
      "labels, env or argv one byte or one entry past the contract's size limits are POLICY_INVALID naming the field [MUST]",
  },
  files: {
    unsupported:
      "provider.files is there when the report says features.files, and without the feature every files call is CAPABILITY_MISMATCH [MUST]",
    roundTrip:
      "write then read gives back every byte value with the SHA-256 of the bytes, and a command sees the file [MUST]",
    streams:
      "a write from a stream and readStream carry 8 MiB intact, each with its checksum [MUST]",
    writeOptions:
      "mode is exact, mkdirs makes parents, exclusive refuses an existing path with FILE_ERROR exists [MUST]",
    atomic:
      "a write past maxBytes, aborted midway, or whose source throws leaves the old file whole and nothing else in its directory [MUST]",
    entries:
      "stat, list, mkdir, rename and remove do what they say, with FILE_ERROR reasons for what is missing, in the way or not empty [MUST]",
    trees:
      "a tar of 1,000 files, nested directories and inner links goes in with one upload and comes back with one download, byte for byte [MUST]",
    readOnly:
      "inside a read-only root a write outside the writable mounts is FILE_ERROR read-only, or readOnlyRootfs is refused [MUST]",
    sessionUser:
      "files are written as the session's user, and as the owner asked for, or user is refused [MUST]",
    badInput:
      "bad paths and options, at and past the edges of the numbers the schema allows, are POLICY_INVALID before anything is sent [MUST]",
    sessionErrors:
      "on a stopped or destroyed session files calls give SESSION_NOT_RUNNING or SESSION_NOT_FOUND [MUST]",
  },
  filesHostile: {
    archiveEscapes:
      "an upload with .., an absolute name, a link pointing out, a hard link, a device or a FIFO is FILE_ERROR unsafe-archive and leaves nothing, inside the target or out [MUST]",
    plantedLinks:
      "links a tenant plants (absolute, relative, to the host's paths) never lead a files call out of the sandbox [MUST]",
    swappedDirectory:
      "a tenant that keeps swapping a directory for a link during uploads and writes gets nothing written through the link [MUST]",
    notAFile:
      "a FIFO or a device at the path is refused at once (FILE_ERROR), never read or waited on [MUST]",
    hugeFiles:
      "a sparse file of a terabyte is refused by read and download at their limits, before its bytes move [MUST]",
    replacedBinaries:
      "a tenant that replaces sh, cat and tar in the image changes nothing: files calls need no binary of the image [MUST]",
    oddNames:
      "names with newlines, spaces and non-ASCII bytes list and round-trip through download and upload [MUST]",
  },
  processes: {
    unsupported:
      "provider.processes is there when the report says features.processes, and without the feature every processes call is CAPABILITY_MISMATCH [MUST]",
    runs: "spawn returns a handle whose output streams while the process runs, apart by stream, and wait() gives its exit; it outlives the call and execs run beside it [MUST]",
    stdin: "write() and closeStdin() reach the process: 1 MiB through cat comes back whole [MUST]",
    signals:
      "kill(SIGTERM) reaches the process's handler; kill() ends its whole tree, setsid and double forks included, and says so [MUST]",
    deadline:
      "a process past its timeoutMs is killed with its tree, and its exit says timedOut [MUST]",
    list: "list() shows running and ended processes with argv[0], never their arguments [MUST]",
    attach:
      "another provider instance attaches to a running process, gets its output from the start, writes to it and sees its end [MUST]",
    ring: "output past the buffer is dropped oldest first: a late attach says how much it missed, and gets the rest [MUST]",
    pty: "a process on a terminal sees the size asked for, a resize, and a terminal of its own; stderr is empty [MUST]",
    endsWithSession:
      "a process ends with its session: wait() settles, and nothing of it is left [MUST]",
    badInput:
      "bad argv, ids, sizes, signals and numbers past the schema's edges are POLICY_INVALID; an unknown id is PROCESS_NOT_FOUND [MUST]",
  },
  processesHostile: {
    flood:
      "a process that floods its output stalls no exec and grows no memory: its buffer stays bounded [MUST]",
    cannotKillAgent:
      "a process that signals PID 1 and its own parent changes nothing: the session goes on serving processes [MUST]",
    tooMany:
      "the processes one session may run at once are bounded: one more is RESOURCE_LIMIT [MUST]",
  },
  usage: {
    stats:
      "sessionStats reads what a session uses from outside it: memory, peak, CPU time, processes and disk grow with what its commands do, within its limits [MUST]",
    watch:
      "watchSessionStats gives readings at the interval asked for, and ends with the session or the caller's abort [MUST]",
    ended:
      "stats of a stopped or destroyed session are SESSION_NOT_RUNNING or SESSION_NOT_FOUND; without the feature, CAPABILITY_MISMATCH [MUST]",
  },
  ends: {
    sessionEvents:
      "events() tells a session's start, each exec's start and end with its cause (an aborted one too), and the session's end, once each [MUST]",
    killedFromOutside:
      "a sandbox killed from outside the provider ends with agent-lost, in events() and in getSession before and after destroy [MUST]",
    ttl: "ttl.approaching comes the caller's lead time before a TTL runs out, then the session ends with cause ttl [MUST when features.ttl]",
    limits:
      "a memory kill and a refused fork are told as limit.hit and as the exec's cause [MUST for each limit enforced whose cause is reported]",
    reaped:
      "reap() after a killed owner ends the session with reaped (owner-gone) and tells session.reaped [MUST]",
    records:
      "an ended session's record is in the backend with its labels and without env values, listed with includeEnded, and reap({ endedOlderThanMs: 0, labels }) removes it [MUST when features.sessionEnds]",
    badOptions:
      "events() refuses options out of range with POLICY_INVALID and takes the largest lead time [MUST]",
    engineRestart:
      "with the engine restarted under a session, the session ends with engine-lost, or runs on where the engine keeps its sessions [MUST where the suite can restart the engine]",
  },
  leaks: {
    final:
      "no session, backend object or end record of this run is left once reap removed the run's records [MUST]",
  },
} as const;

export type ConformanceArea = keyof typeof conformanceTestNames;
