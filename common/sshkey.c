/*
 * sshkey: OpenSSH's public key forms.  Base64 is OpenSSL's
 * EVP_DecodeBlock, behind a strict check of the alphabet and padding
 * (it skips blanks and counts padding as zero bytes).  The digest is
 * keygen's SHA-256.
 */
#include <string.h>

#include <openssl/evp.h>

#include "keygen.h"
#include "sshkey.h"

#define SSH_ED25519	"ssh-ed25519"

static int
b64char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int
sshkey_b64decode(const char *in, size_t inlen, uint8_t *out, size_t outmax,
    size_t *outlen)
{
	uint8_t buf[1024];
	size_t i, pad = 0;
	int n;

	*outlen = 0;
	if (inlen == 0 || inlen % 4 != 0 || inlen / 4 * 3 > sizeof(buf))
		return -1;
	if (in[inlen - 1] == '=')
		pad = in[inlen - 2] == '=' ? 2 : 1;
	for (i = 0; i < inlen - pad; i++)
		if (!b64char((unsigned char)in[i]))
			return -1;
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)inlen);
	if (n < 0 || (size_t)n < pad || (size_t)n - pad > outmax) {
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	*outlen = (size_t)n - pad;
	memcpy(out, buf, *outlen);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

int
sshkey_blob_parse(const uint8_t *blob, size_t len, uint8_t pub[SSHKEY_PUBLEN])
{
	size_t tl = strlen(SSH_ED25519);

	if (len != SSHKEY_BLOBLEN || get32(blob) != tl ||
	    memcmp(blob + 4, SSH_ED25519, tl) != 0 ||
	    get32(blob + 4 + tl) != SSHKEY_PUBLEN)
		return -1;
	memcpy(pub, blob + 8 + tl, SSHKEY_PUBLEN);
	return 0;
}

void
sshkey_blob(const uint8_t pub[SSHKEY_PUBLEN], uint8_t blob[SSHKEY_BLOBLEN])
{
	size_t tl = strlen(SSH_ED25519);

	put32(blob, (uint32_t)tl);
	memcpy(blob + 4, SSH_ED25519, tl);
	put32(blob + 4 + tl, SSHKEY_PUBLEN);
	memcpy(blob + 8 + tl, pub, SSHKEY_PUBLEN);
}

int
sshkey_parse_line(const char *line, uint8_t pub[SSHKEY_PUBLEN],
    const char **why)
{
	uint8_t blob[128];
	const char *s = line, *e;
	size_t tl = strlen(SSH_ED25519), len;

	s += strspn(s, " \t");
	e = s + strcspn(s, " \t\r\n");
	if ((size_t)(e - s) != tl || strncmp(s, SSH_ED25519, tl) != 0) {
		*why = "not an ssh-ed25519 public key";
		return -1;
	}
	s = e + strspn(e, " \t");
	e = s + strcspn(s, " \t\r\n");
	if (sshkey_b64decode(s, (size_t)(e - s), blob, sizeof(blob),
	    &len) == -1 || sshkey_blob_parse(blob, len, pub) == -1) {
		*why = "broken ssh-ed25519 key data";
		return -1;
	}
	return 0;
}

void
sshkey_id(const uint8_t pub[SSHKEY_PUBLEN], uint8_t id[SSHKEY_IDLEN])
{
	uint8_t blob[SSHKEY_BLOBLEN];

	sshkey_blob(pub, blob);
	keygen_hash((const char *)blob, sizeof(blob), id);
}
