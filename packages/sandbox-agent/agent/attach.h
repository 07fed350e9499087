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

/* Listens on `name`: a path, or an abstract name after an '@'. Returns the descriptor, or -1.
 * Only a peer of the agent's own uid is let in. */
int attach_listen(const char *name);
/* Accepts one waiting peer as a new link and greets it; returns its serial, 0 when refused. */
uint32_t attach_accept(int listen_fd);

/* `cadre-agent connect [NAME]`: relays its stdin and stdout to the agent at NAME. */
int attach_connect_main(const char *name);

#endif
