/* migrations.h: the SQL migrations embedded at build time (generated from migrations/NNNN_name.sql). */
#ifndef REKEY_MIGRATIONS_H
#define REKEY_MIGRATIONS_H

struct rk_migration {
	unsigned version; /* NNNN from the file name */
	const char *name; /* file name without .sql */
	const char *sql;
};

extern const struct rk_migration rk_migrations[];
extern const unsigned rk_migrations_count;

#endif
