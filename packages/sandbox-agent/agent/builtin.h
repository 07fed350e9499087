/*
 * The files operations: built into the agent, run like a command (under a supervisor, as the
 * command's user with no capability, stdin and stdout its pipes, a deadline, a kill) but without
 * an exec, so no binary of the image takes part. argv[0] names the operation:
 *
 *   write PATH MODE FLAGS MAX     stdin into PATH, atomically (MODE octal or "-"; FLAGS: p
 *                                  make parents, x fail if PATH exists); more than MAX bytes fails
 *   read PATH MAX                 PATH's bytes to stdout; a file of more than MAX bytes fails
 *   stat PATH FOLLOW              one entry record (FOLLOW 1: through a last symbolic link)
 *   list PATH MAX                 a record per entry of the directory PATH, at most MAX
 *   remove PATH FLAGS             PATH (FLAGS: r recursive, f no error when missing)
 *   rename FROM TO FLAGS          (FLAGS: p make TO's parents)
 *   mkdir PATH MODE FLAGS         (FLAGS: p make parents, no error when it is a directory)
 *   extract DIR FLAGS MAXBYTES MAXENTRIES
 *                                 entry records from stdin into DIR, checked whole in a staging
 *                                 directory first (FLAGS: p make DIR and its parents)
 *   archive PATH MAXBYTES MAXENTRIES
 *                                 PATH and everything below it, as entry records with the bytes
 *
 * Each writes one result line to stderr, "ok" or "error", then key=value fields: errno, step
 * and entry (the index of an extract's failing record) on failure; size, sha256, truncated,
 * entries and changed where they apply. The exit code is 0 on success, 1 on failure.
 */
#ifndef CADRE_AGENT_BUILTIN_H
#define CADRE_AGENT_BUILTIN_H

int builtin_run(char *const argv[]);

#endif
