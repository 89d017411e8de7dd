/* libFuzzer: the configuration parser (configuration files are input too). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sw_config cfg;
	char err[512];
	if (config_parse((const char *)data, size, "fuzz.conf", &cfg, err, sizeof err) < 0) {
		if (!memchr(err, 0, sizeof err) || strncmp(err, "fuzz.conf", 9))
			__builtin_trap();
	}
	return 0;
}
