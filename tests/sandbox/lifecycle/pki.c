/* pki.c: the sandbox's PKI, generated with OpenSSL's C API: a CA, the apiservers' serving certificate
 * (SANs 127.0.0.1, localhost, kubernetes), the admin client certificate (CN=admin, O=system:masters)
 * D/pki/tokens.csv with a random bearer token, and the service-account signing pair sa.key/sa.pub
 * (the real kube-apiserver needs one). Private keys and tokens are written 0600. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	int rc = X509_add_ext(cert, ext, -1) ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* A certificate for `key` with subject CN (and O when given), signed by issuer/issuer_key (self when
 * NULL), with the extensions listed as nid/value pairs. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *org, X509 *issuer, EVP_PKEY *issuer_key,
                       const int *nids, const char *const *values, size_t nexts)
{
	X509 *cert = X509_new();
	unsigned char serial[16];
	RAND_bytes(serial, sizeof serial);
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
	BN_free(bn);
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
	X509_set_pubkey(cert, key);
	X509_NAME *name = X509_get_subject_name(cert);
	if (org)
		X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
	int bad = 0;
	for (size_t i = 0; i < nexts; i++)
		bad |= add_ext(cert, issuer ? issuer : cert, nids[i], values[i]);
	if (bad || !X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256())) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* Writes cert (0644), else the public half of key when `public_only` (0644), else key (0600). */
static int write_pem_as(const char *dir, const char *file, X509 *cert, EVP_PKEY *key, int public_only,
                        rk_err *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int ok = cert          ? PEM_write_bio_X509(bio, cert)
	         : public_only ? PEM_write_bio_PUBKEY(bio, key)
	                       : PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	char *data = NULL;
	long len = BIO_get_mem_data(bio, &data);
	char *path = lc_path("%s/pki/%s", dir, file);
	int rc = ok ? lc_write_file(path, data, (size_t)len, cert || public_only ? 0644 : 0600, err)
	            : rk_err_set(err, RK_FAIL, "%s: PEM encoding failed", path);
	free(path);
	BIO_free(bio);
	return rc;
}

static int write_pem(const char *dir, const char *file, X509 *cert, EVP_PKEY *key, rk_err *err)
{
	return write_pem_as(dir, file, cert, key, 0, err);
}

/* The service-account token signing key (sa.key) and its public half (sa.pub). */
static int write_sa_keys(const char *dir, rk_err *err)
{
	EVP_PKEY *key = new_key();
	int rc = key ? write_pem(dir, "sa.key", NULL, key, err)
	             : rk_err_set(err, RK_FAIL, "EC key generation failed");
	if (!rc)
		rc = write_pem_as(dir, "sa.pub", NULL, key, 1, err);
	EVP_PKEY_free(key);
	return rc;
}

static int write_pair(const char *dir, const char *stem, X509 *cert, EVP_PKEY *key, rk_err *err)
{
	char crt[64], keyfile[64];
	snprintf(crt, sizeof crt, "%s.crt", stem);
	snprintf(keyfile, sizeof keyfile, "%s.key", stem);
	if (!cert)
		return rk_err_set(err, RK_FAIL, "%s: certificate generation failed", stem);
	int rc = write_pem(dir, crt, cert, NULL, err);
	return rc ? rc : write_pem(dir, keyfile, NULL, key, err);
}

static int write_tokens(const char *dir, rk_err *err)
{
	unsigned char raw[24];
	char token[49];
	RAND_bytes(raw, sizeof raw);
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(token + 2 * i, 3, "%02x", raw[i]);
	char *line =
	    lc_path("%s,admin-token,uid-admin-token,\"system:masters,system:authenticated\"\n", token);
	char *path = lc_path("%s/pki/tokens.csv", dir);
	int rc = lc_write_text(path, line, 0600, err);
	OPENSSL_cleanse(line, strlen(line));
	OPENSSL_cleanse(token, sizeof token);
	free(line);
	free(path);
	return rc;
}

int lc_pki_generate(const char *dir, rk_err *err)
{
	char *pki = lc_path("%s/pki", dir);
	int rc = lc_mkdirs(pki, err);
	free(pki);
	if (rc)
		return rc;
	EVP_PKEY *ca_key = new_key(), *srv_key = new_key(), *adm_key = new_key();
	if (!ca_key || !srv_key || !adm_key) {
		rc = rk_err_set(err, RK_FAIL, "EC key generation failed");
		goto out;
	}
	static const int ca_nids[] = {NID_basic_constraints, NID_key_usage, NID_subject_key_identifier};
	static const char *const ca_vals[] = {"critical,CA:TRUE",
	                                      "critical,keyCertSign,cRLSign,digitalSignature", "hash"};
	X509 *ca = make_cert(ca_key, "rekey-sandbox-ca", NULL, NULL, NULL, ca_nids, ca_vals, 3);
	static const int leaf_nids[] = {NID_basic_constraints, NID_key_usage, NID_ext_key_usage,
	                                NID_authority_key_identifier, NID_subject_alt_name};
	static const char *const srv_vals[] = {
	    "critical,CA:FALSE", "critical,digitalSignature,keyEncipherment", "serverAuth", "keyid:always",
	    "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default"};
	static const char *const adm_vals[] = {
	    "critical,CA:FALSE", "critical,digitalSignature,keyEncipherment", "clientAuth", "keyid:always"};
	X509 *srv =
	    ca ? make_cert(srv_key, "kube-apiserver", NULL, ca, ca_key, leaf_nids, srv_vals, 5) : NULL;
	X509 *adm =
	    ca ? make_cert(adm_key, "admin", "system:masters", ca, ca_key, leaf_nids, adm_vals, 4) : NULL;
	rc = write_pair(dir, "ca", ca, ca_key, err);
	if (!rc)
		rc = write_pair(dir, "apiserver", srv, srv_key, err);
	if (!rc)
		rc = write_pair(dir, "admin", adm, adm_key, err);
	if (!rc)
		rc = write_tokens(dir, err);
	if (!rc)
		rc = write_sa_keys(dir, err);
	X509_free(ca);
	X509_free(srv);
	X509_free(adm);
out:
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(adm_key);
	return rc;
}
