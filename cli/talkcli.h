/*
 * talkcli.h - helpers shared by the talk commands of the CLI (talkcli.c).
 */
#ifndef BC_TALKCLI_H
#define BC_TALKCLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"
#include "talk.h"

#define FP_PREFIX 4 /* bytes of a fingerprint shown (8 hex digits) */

/* A profile's store and talks, opened for one command. */
struct cli_talks {
	bc_store *st;
	bc_talks *t;
};

/* Open the profile and its talks; prints the error itself. */
int cli_talks_open(struct cli_talks *c);
void cli_talks_close(struct cli_talks *c);
/* Find a talk by id or unique prefix; prints the error itself. */
int cli_find_talk(struct cli_talks *c, const char *s,
		  uint8_t id[BC_TALK_ID_LEN]);
/* Open the profile and find the talk named s (cli_talks_close after). */
int cli_talk_arg(struct cli_talks *c, const char *s,
		 uint8_t id[BC_TALK_ID_LEN], bc_talk_info *info);

/* A relay named with 'relay add' (s without ':') or s itself, as an
 * address string in out; prints the error itself. */
int cli_relay_lookup(struct cli_talks *c, const char *s, char *out,
		     size_t cap);

int cli_parse_role(const char *s, uint8_t *role);
int cli_parse_label(const char *s, uint8_t *label);

const char *cli_name_or(const char *s, const char *dflt);
void cli_print_hex(FILE *f, const uint8_t *p, size_t n);
/* Text from others, with control characters escaped (one line). */
void cli_print_safe(FILE *f, const char *s);
void cli_print_time(FILE *f, uint64_t t);
const bc_talk_member *cli_member_of(const bc_talk_info *info,
				    const uint8_t id[BC_E2E_ID_LEN]);
/* "US:1a2b3c4d" for a party, "mediator:1a2b3c4d" otherwise. */
void cli_print_who(FILE *f, const bc_talk_info *info,
		   const uint8_t id[BC_E2E_ID_LEN]);
/* JSON: "from":"<hex>","from_role":"...","from_side":"..." style fields
 * for a member, under the given key prefix (e.g. "from"). */
void cli_json_who(FILE *f, const char *key, const bc_talk_info *info,
		  const uint8_t id[BC_E2E_ID_LEN]);
const char *cli_kind_name(uint8_t k);
void cli_print_event(const bc_talk_info *info, const bc_talk_event *ev);
void cli_print_event_json(const bc_talk_info *info, const bc_talk_event *ev,
			  bool first);
/* Resolve "WHO,WHO,..." against the talk's members: each WHO is a side
 * label (case-insensitive, e.g. "US"), "mediator", or a hex prefix of a
 * fingerprint. The caller itself is left out. Prints the error itself. */
int cli_resolve_members(const bc_talk_info *info, const uint8_t *self,
			const char *list, uint8_t (*to)[BC_E2E_ID_LEN],
			size_t *nto);

#endif
