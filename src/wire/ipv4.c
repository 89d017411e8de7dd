#include "ipv4.h"

#include <arpa/inet.h>

bool ipv4_in_nets(const struct ipv4_net *nets, unsigned n, uint32_t ip)
{
	for (unsigned i = 0; i < n; i++)
		if ((nets[i].addr & nets[i].mask) == (ip & nets[i].mask) && nets[i].addr != ip)
			return true;
	return false;
}
