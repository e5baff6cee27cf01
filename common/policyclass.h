/*
 * policyclass: the endpoint classes a key may use, as a bit mask, and
 * their names.  Both programs need them: the daemon to decide (policy.h
 * classifies requests), keyctl and the key store to read and write a
 * key's "allow".
 */
#ifndef POLICYCLASS_H
#define POLICYCLASS_H

#include <stddef.h>

#define POLICY_READ		0x1
#define POLICY_INFER		0x2
#define POLICY_MANAGE		0x4
#define POLICY_ALL		(POLICY_READ | POLICY_INFER | POLICY_MANAGE)
#define POLICY_DEFAULT_ALLOW	(POLICY_INFER | POLICY_READ)
#define POLICY_ALLOW_MAX	sizeof("infer,read,manage")

/* "read", "infer" or "manage" for one class bit. */
const char *policy_class_name(int cls);
/*
 * Parses "infer,read" into a mask.  -1 with a message naming the bad
 * class in err; "" is the empty set.
 */
int	 policy_allow_parse(const char *s, int *mask, char *err,
	    size_t errlen);
/* Writes the mask as "read,infer,manage" (in that order); "" for none. */
void	 policy_allow_format(int mask, char *buf, size_t len);

#endif
