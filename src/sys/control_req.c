#include "sys/control_req.h"

#include <string.h>

int control_parse(const char *buf, size_t len, struct control_req *req, const char **why)
{
	const char *nl = memchr(buf, '\n', len < CONTROL_REQ_MAX ? len : CONTROL_REQ_MAX);
	if (!nl) {
		*why = len >= CONTROL_REQ_MAX ? "request too long" : "request not terminated by a newline";
		return -1;
	}
	if ((size_t)(nl - buf) + 1 != len) {
		*why = "bytes after the request line";
		return -1;
	}
	size_t n = (size_t)(nl - buf);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 || c > 0x7e) {
			*why = "request holds a control or non-ASCII byte";
			return -1;
		}
	}
	static const struct {
		const char *word;
		enum control_verb verb;
	} verbs[] = { { "status", CTL_STATUS }, { "peers", CTL_PEERS } };
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		size_t w = strlen(verbs[i].word);
		if (n < w || memcmp(buf, verbs[i].word, w) || (n > w && buf[w] != ' '))
			continue;
		if (n == w || (n == w + 5 && !memcmp(buf + w, " json", 5))) {
			req->verb = verbs[i].verb;
			req->json = n != w;
			return 0;
		}
		*why = "unknown option (the only one is \"json\")";
		return -1;
	}
	*why = "unknown request (status or peers)";
	return -1;
}
