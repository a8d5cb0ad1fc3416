/* token.h - the OctoStore bearer token: sources, reload, rotation, wiping. */
#ifndef TOKEN_H
#define TOKEN_H

#include <stddef.h>
#include <stdint.h>

struct config;

/*
 * Load the token at start-up.  Sources, first found wins: token_file (config or
 * --token-file), $CREDENTIALS_DIRECTORY/token, $OCTOSTORE_TOKEN (which is then wiped
 * from the environment).  A file readable or writable by group or others is refused.
 * Returns 0 (also when no source exists: lock methods then fail with
 * authentication_required), or -1 with err set; err never holds token bytes.
 */
int token_load(const struct config *cfg, char *err, size_t errlen);

/* SIGHUP: re-read the token file, keeping the old token if that fails; 0 or -1. */
int token_reload(void);

/* Wipe the token from memory (exit). */
void token_wipe(void);

/* The token and its length, or NULL when none is loaded; len may be NULL. */
const char *token_get(size_t *len);

/*
 * The token's generation: it changes whenever the token in memory does (rotation, or
 * a reload that read a different token), never otherwise.
 */
uint64_t token_generation(void);

/* Where the token came from, for logs: "file", "credential", "environment", "none". */
const char *token_source(void);

/*
 * Take a rotated token: persist it first when the source is a writable file
 * (temporary file 0600 in the same directory, write, fsync, rename, fsync the
 * directory), then swap it in memory.  *persisted says whether the file now holds
 * it.  Returns 0, or -1 if tok is not a usable token (memory is then unchanged).
 */
int token_replace(const char *tok, size_t len, int *persisted);

#endif
