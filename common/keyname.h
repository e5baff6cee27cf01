/*
 * keyname: the rules for a key's name and for any text stored beside a
 * key, shared by the daemon's POST /key/generate, keyctl and import.
 */
#ifndef KEYNAME_H
#define KEYNAME_H

/* 1 if name may name a key: 1 to KEYSTORE_NAME_MAX - 1 bytes of UTF-8,
 * no control characters, and not all digits (those are ids). */
int	keyname_valid(const char *name);
/* 1 if str is strict UTF-8 without control characters. */
int	keyname_text_valid(const char *str);

#endif
