/*
 * policyclass: class names and the parsing of a key's "allow" list.
 */
#include <stdio.h>
#include <string.h>

#include "policyclass.h"

static const char *const class_names[] = { "read", "infer", "manage" };

const char *
policy_class_name(int cls)
{
	switch (cls) {
	case POLICY_READ: return class_names[0];
	case POLICY_INFER: return class_names[1];
	case POLICY_MANAGE: return class_names[2];
	default: return "?";
	}
}

int
policy_allow_parse(const char *s, int *mask, char *err, size_t errlen)
{
	const char *e;
	size_t len, i;
	int m = 0;

	*mask = 0;
	for (; *s != '\0'; s = *e == ',' ? e + 1 : e) {
		s += strspn(s, " \t");
		e = s + strcspn(s, ",");
		len = (size_t)(e - s);
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		for (i = 0; i < 3; i++)
			if (strlen(class_names[i]) == len &&
			    strncmp(s, class_names[i], len) == 0)
				break;
		if (i == 3) {
			snprintf(err, errlen, "unknown class \"%.*s\" (read, "
			    "infer or manage)", len > 32 ? 32 : (int)len, s);
			return -1;
		}
		m |= 1 << i;
	}
	*mask = m;
	return 0;
}

void
policy_allow_format(int mask, char *buf, size_t len)
{
	size_t i;

	if (len > 0)
		buf[0] = '\0';
	for (i = 0; i < 3; i++) {
		if ((mask & (1 << i)) == 0)
			continue;
		if (buf[0] != '\0')
			strlcat(buf, ",", len);
		strlcat(buf, class_names[i], len);
	}
}
