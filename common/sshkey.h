/*
 * sshkey: Ed25519 public keys in OpenSSH's forms, for keys whose secret
 * never leaves the user's machine (the Ollama CLI's ~/.ollama/id_ed25519):
 * the wire blob (string "ssh-ed25519", string key[32]), an
 * authorized_keys line ("ssh-ed25519 AAAA... comment"), strict base64,
 * and the identity under which the key store keeps such a key.
 */
#ifndef SSHKEY_H
#define SSHKEY_H

#include <stddef.h>
#include <stdint.h>

#define SSHKEY_PUBLEN	32
#define SSHKEY_SIGLEN	64
#define SSHKEY_BLOBLEN	51	/* 4 + 11 + 4 + 32 */
#define SSHKEY_IDLEN	32

/*
 * Decodes standard base64 with its padding (RFC 4648 section 4), and
 * nothing else: no spaces, no URL alphabet, no missing "=".  -1 if in
 * is not that or does not fit.
 */
int	sshkey_b64decode(const char *in, size_t inlen, uint8_t *out,
	    size_t outmax, size_t *outlen);
/* The key in an ssh-ed25519 wire blob; -1 for another type or a
 * broken blob. */
int	sshkey_blob_parse(const uint8_t *blob, size_t len,
	    uint8_t pub[SSHKEY_PUBLEN]);
void	sshkey_blob(const uint8_t pub[SSHKEY_PUBLEN],
	    uint8_t blob[SSHKEY_BLOBLEN]);
/*
 * Parses "ssh-ed25519 AAAA... [comment]" (leading and trailing blanks
 * and a newline allowed).  -1 with a reason in *why.
 */
int	sshkey_parse_line(const char *line, uint8_t pub[SSHKEY_PUBLEN],
	    const char **why);
/*
 * The identity of a key: SHA-256 of its wire blob, the digest
 * "ssh-keygen -l -E sha256" shows in base64.  The blob begins with
 * the bytes 00 00 00 0b, which no key a client presents can hold (those
 * are printable), so an identity never equals the hash of a secret key
 * and the store's hash column can hold both.
 */
void	sshkey_id(const uint8_t pub[SSHKEY_PUBLEN], uint8_t id[SSHKEY_IDLEN]);

#endif
