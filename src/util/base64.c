/* base64.c: the one base64 codec (see include/rekey/base64.h): encoding through OpenSSL's
 * EVP_EncodeBlock, decoding by a small table-driven loop that checks every symbol, counts before it
 * writes, and so needs no scratch space of the input's size. */
#include "rekey/base64.h"

#include <openssl/evp.h>

static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int rk_b64_encode(const void *data, size_t len, unsigned flags, rk_buf *out)
{
	if (len > (size_t)0x5fffffff || rk_buf_reserve(out, 4 * ((len + 2) / 3) + 1) != 0)
		return -1;
	unsigned char *dst = out->data + out->len;
	size_t n = (size_t)EVP_EncodeBlock(dst, data, (int)len);
	if (flags & RK_B64_URL) {
		while (n > 0 && dst[n - 1] == '=')
			n--;
		for (size_t i = 0; i < n; i++)
			dst[i] = dst[i] == '+' ? '-' : dst[i] == '/' ? '_' : dst[i];
	}
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

/* The 6-bit value of symbol c in the variant's alphabet, -1 when it is not one. */
static int symbol_value(unsigned char c, unsigned flags)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (flags & RK_B64_URL)
		return c == url_alphabet[62] ? 62 : c == url_alphabet[63] ? 63 : -1;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static int skipped(unsigned char c, unsigned flags)
{
	return (flags & RK_B64_NEWLINES) && (c == '\r' || c == '\n');
}

/* Checks the text and returns the number of bytes it decodes to, -1 when invalid. */
static long decoded_length(const char *text, size_t len, unsigned flags)
{
	size_t symbols = 0, pad = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (skipped(c, flags))
			continue;
		if (c == '=' && !(flags & RK_B64_URL)) {
			pad++;
			continue;
		}
		if (pad || symbol_value(c, flags) < 0)
			return -1;
		symbols++;
	}
	if (flags & RK_B64_URL)
		return symbols % 4 == 1 ? -1 : (long)(symbols / 4 * 3 + (symbols % 4 ? symbols % 4 - 1 : 0));
	if ((symbols + pad) % 4 != 0 || pad > 2 || (pad && symbols % 4 == 0))
		return -1;
	return (long)(symbols / 4 * 3 + (symbols % 4 ? symbols % 4 - 1 : 0));
}

long rk_b64_decode_to(const char *text, size_t len, unsigned flags, unsigned char *out, size_t cap)
{
	long want = decoded_length(text, len, flags);
	if (want < 0 || (size_t)want > cap)
		return -1;
	unsigned acc = 0;
	int bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (skipped(c, flags) || c == '=')
			continue;
		acc = (acc << 6 | (unsigned)symbol_value(c, flags)) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	if ((flags & RK_B64_STRICT) && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)n;
}

int rk_b64_decode(const char *text, size_t len, unsigned flags, rk_buf *out)
{
	long want = decoded_length(text, len, flags);
	if (want < 0 || rk_buf_reserve(out, (size_t)want + 1) != 0)
		return -1;
	long n = rk_b64_decode_to(text, len, flags, out->data + out->len, (size_t)want);
	if (n < 0)
		return -1;
	out->len += (size_t)n;
	out->data[out->len] = '\0';
	return 0;
}
