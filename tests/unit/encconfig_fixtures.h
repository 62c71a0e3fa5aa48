/* encconfig_fixtures.h: YAML building blocks shared by the encconfig unit suites. Line numbers in the
 * comments are where each block lands when the blocks are concatenated in the order shown. */
#ifndef REKEY_ENCCONFIG_FIXTURES_H
#define REKEY_ENCCONFIG_FIXTURES_H

#define K16 "MDEyMzQ1Njc4OWFiY2RlZg=="                     /* "0123456789abcdef" */
#define K24 "MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1u"             /* 24 bytes */
#define K20 "MDEyMzQ1Njc4OWFiY2RlZmdoaWo="                 /* 20 bytes: wrong for every provider */
#define K32 "MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0dXY=" /* 32 bytes */
#define K32B "RVhBTVBMRS1PTkxZLWFlc2NiYy1rZXktMzItYnl0ZXM="

/* lines 1-3 */
#define HDR "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
/* lines 4-6 */
#define RULE(res) "  - resources:\n      - " res "\n    providers:\n"
/* 4 lines: "- aescbc:", "keys:", "- name:", "secret:" */
#define PROV(type, name, secret)                                                                             \
	"      - " type ":\n          keys:\n            - name: " name "\n              secret: " secret "\n"
#define IDENTITY "      - identity: {}\n"
/* 4 lines: "- kms:", apiVersion, name, endpoint */
#define KMS(ver, name, endpoint)                                                                             \
	"      - kms:\n          apiVersion: " ver "\n          name: " name                                 \
	"\n          endpoint: " endpoint "\n"

#define AESCBC_CONFIG HDR RULE("secrets") PROV("aescbc", "key1", K32) IDENTITY

#endif
