/* Directory trees in and out of the sandbox as entry records (records.h): builtin.h's `extract`
 * and `archive`. */
#ifndef CADRE_AGENT_ARCHIVE_H
#define CADRE_AGENT_ARCHIVE_H

int op_extract(char *const argv[]);
int op_archive(char *const argv[]);

#endif
