/* aesgcm.c: an independent AES-GCM implementation for the e2e scenarios (OpenSSL EVP used directly, not
 * librekey's codec): checks that values the sandbox stores decrypt as kube-apiserver's aesgcm layout
 * (nonce(12) || ciphertext || tag(16), AAD = the etcd key) and produces such values for it to read.
 * usage: aesgcm seal|open KEYFILE AAD < input > output   (KEYFILE holds the key in standard base64) */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t read_all(FILE *f, unsigned char **out)
{
	size_t cap = 1 << 16, len = 0, n;
	unsigned char *buf = malloc(cap);
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	*out = buf;
	return len;
}

static int load_key(const char *path, unsigned char key[32])
{
	FILE *f = fopen(path, "r");
	char b64[128] = {0};
	if (!f || !fgets(b64, sizeof b64, f))
		return -1;
	fclose(f);
	b64[strcspn(b64, "\r\n")] = 0;
	unsigned char raw[96];
	int n = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)strlen(b64));
	if (n < 32)
		return -1;
	memcpy(key, raw, 32);
	return 0;
}

static int seal(const unsigned char *key, const char *aad, const unsigned char *in, size_t len)
{
	unsigned char nonce[12], tag[16];
	unsigned char *out = malloc(len + 16);
	int n = 0, fin = 0;
	RAND_bytes(nonce, sizeof nonce);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int ok = EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) &&
	         EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) &&
	         EVP_EncryptUpdate(c, out, &n, in, (int)len) && EVP_EncryptFinal_ex(c, out + n, &fin) &&
	         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
	EVP_CIPHER_CTX_free(c);
	if (ok) {
		fwrite(nonce, 1, sizeof nonce, stdout);
		fwrite(out, 1, (size_t)(n + fin), stdout);
		fwrite(tag, 1, sizeof tag, stdout);
	}
	free(out);
	return ok ? 0 : 1;
}

static int open_(const unsigned char *key, const char *aad, const unsigned char *in, size_t len)
{
	if (len < 28)
		return 1;
	size_t ct_len = len - 28;
	unsigned char *out = malloc(ct_len + 16);
	int n = 0, fin = 0;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in) &&
	         EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) &&
	         EVP_DecryptUpdate(c, out, &n, in + 12, (int)ct_len) &&
	         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + len - 16)) &&
	         EVP_DecryptFinal_ex(c, out + n, &fin) > 0;
	EVP_CIPHER_CTX_free(c);
	if (ok)
		fwrite(out, 1, (size_t)(n + fin), stdout);
	free(out);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	unsigned char key[32], *in = NULL;
	if (argc != 4 || load_key(argv[2], key) < 0) {
		fprintf(stderr, "usage: aesgcm seal|open KEYFILE AAD < in > out\n");
		return 2;
	}
	size_t len = read_all(stdin, &in);
	int rc = !strcmp(argv[1], "seal") ? seal(key, argv[3], in, len) : open_(key, argv[3], in, len);
	if (rc)
		fprintf(stderr, "aesgcm: %s failed\n", argv[1]);
	free(in);
	return rc;
}
