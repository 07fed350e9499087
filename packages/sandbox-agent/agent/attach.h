/*
 * Hosts that attach later: the agent's socket, and `cadre-agent connect`, which a host runs in
 * the sandbox (an engine exec) to reach a running agent when the sandbox's own stdio is not its
 * to use (another process holds it, or the engine closed it when the first host went away).
 */
#ifndef CADRE_AGENT_ATTACH_H
#define CADRE_AGENT_ATTACH_H

#include <stdint.h>

/* The socket of an agent that runs as PID 1: abstract, so it is in the sandbox's own network
 * namespace, and bound before any command runs, so no tenant process can hold the name first. */
#define DEFAULT_SOCKET "@cadre-agent/1"

/*
 * Listens on `name`: a path, or an abstract name after an '@'. Returns the descriptor, or -1.
 * `sandboxed`: a peer is let in only if it entered the sandbox from outside (its parent is not
 * in the agent's PID namespace, so it reads as 0: an engine exec); otherwise only a peer of the
 * agent's own uid.
 */
int attach_listen(const char *name, int sandboxed);
/* Accepts one waiting peer as a new link and greets it; returns its serial, 0 when refused. */
uint32_t attach_accept(int listen_fd);

/* `cadre-agent connect [NAME]`: relays its stdin and stdout to the agent at NAME. */
int attach_connect_main(const char *name);

#endif
