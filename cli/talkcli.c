/*
 * talkcli.c - what the talk commands share: opening the profile's talks,
 * finding a talk and its members from what the user typed, and printing
 * members, times and timeline events (text and JSON).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "e2e.h"
#include "encoding.h"
#include "internal.h"
#include "profile.h"
#include "talk.h"
#include "talkcli.h"

/* ---- opening the profile --------------------------------------------- */

int cli_talks_open(struct cli_talks *c)
{
	const char *why = NULL;
	int rc;
	c->st = NULL;
	c->t = NULL;
	rc = bc_profile_open(NULL, 0, &c->st, &why);
	if (rc != BC_OK) {
		cli_err("%s", why ? why : bc_strerror(rc));
		return rc;
	}
	rc = bc_talks_open(&c->t, c->st, (uint64_t)time(NULL));
	if (rc == BC_OK && getenv("BACKCHANNEL_RETRY_SECONDS") != NULL) {
		long s = strtol(getenv("BACKCHANNEL_RETRY_SECONDS"), NULL, 10);
		if (s >= 1 && s <= 3600)
			bc_talks_set_retry(c->t, (int)s * 1000);
	}
	if (rc != BC_OK) {
		cli_err("cannot load the talks: %s", bc_strerror(rc));
		bc_store_close(c->st);
		c->st = NULL;
	}
	return rc;
}

void cli_talks_close(struct cli_talks *c)
{
	bc_talks_free(c->t);
	bc_store_close(c->st);
	c->t = NULL;
	c->st = NULL;
}

int cli_find_talk(struct cli_talks *c, const char *s, uint8_t id[BC_TALK_ID_LEN])
{
	int rc = bc_talk_find(c->t, s, id);
	if (rc == BC_ERR_NOTFOUND)
		cli_err("no talk '%s' in this profile (see 'backchannel talk "
			"list')",
			s);
	else if (rc == BC_ERR_CONFLICT)
		cli_err("'%s' matches more than one talk: give more digits", s);
	else if (rc == BC_ERR_INVALID || rc == BC_ERR_MALFORMED)
		cli_err("'%s' is not a talk id (hex digits expected)", s);
	else if (rc != BC_OK)
		cli_err("cannot look up talk '%s': %s", s, bc_strerror(rc));
	return rc;
}

/* ---- parsing ------------------------------------------------------------ */

int cli_parse_role(const char *s, uint8_t *role)
{
	if (strcmp(s, "party") == 0)
		*role = BC_ROLE_PARTY;
	else if (strcmp(s, "mediator") == 0)
		*role = BC_ROLE_MEDIATOR;
	else if (strcmp(s, "observer") == 0)
		*role = BC_ROLE_OBSERVER;
	else {
		cli_err("unknown role '%s' (party, mediator or observer)", s);
		return BC_ERR_INVALID;
	}
	return BC_OK;
}

int cli_parse_label(const char *s, uint8_t *label)
{
	if (strcmp(s, "private") == 0)
		*label = BC_LABEL_PRIVATE;
	else if (strcmp(s, "paraphrase") == 0)
		*label = BC_LABEL_PARAPHRASE;
	else if (strcmp(s, "verbatim") == 0)
		*label = BC_LABEL_VERBATIM;
	else if (strcmp(s, "attributed") == 0)
		*label = BC_LABEL_ATTRIBUTED;
	else {
		cli_err("unknown label '%s' (private, paraphrase, verbatim or "
			"attributed)",
			s);
		return BC_ERR_INVALID;
	}
	return BC_OK;
}

/* ---- printing ----------------------------------------------------------- */

const char *cli_name_or(const char *s, const char *dflt)
{
	return s != NULL && *s != '\0' ? s : dflt;
}

void cli_print_hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

/* Text from others, with control characters escaped (one line). */
void cli_print_safe(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\\')
			fputs("\\\\", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

void cli_print_time(FILE *f, uint64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) != NULL &&
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		fputs(buf, f);
	else
		fprintf(f, "%llu", (unsigned long long)t);
}

const bc_talk_member *cli_member_of(const bc_talk_info *info,
				       const uint8_t id[BC_E2E_ID_LEN])
{
	if (info == NULL)
		return NULL;
	for (size_t i = 0; i < info->nmembers; i++)
		if (memcmp(info->members[i].id, id, BC_E2E_ID_LEN) == 0)
			return &info->members[i];
	return NULL;
}

/* "US:1a2b3c4d" for a party, "mediator:1a2b3c4d" otherwise. */
void cli_print_who(FILE *f, const bc_talk_info *info,
		      const uint8_t id[BC_E2E_ID_LEN])
{
	const bc_talk_member *m = cli_member_of(info, id);
	if (m == NULL)
		fputs("?", f);
	else if (m->side[0] != '\0')
		cli_print_safe(f, m->side);
	else
		fputs(cli_name_or(bc_talk_role_name(m->role), "?"), f);
	fputc(':', f);
	cli_print_hex(f, id, FP_PREFIX);
}

const char *cli_kind_name(uint8_t k)
{
	switch (k) {
	case 1: return "join";
	case 2: return "members";
	case 3: return "say";
	case 4: return "state";
	case 5: return "passed-on";
	case 6: return "audit";
	case 7: return "leave";
	case 8: return "proposal";
	case 9: return "signature";
	case 10: return "text";
	case 11: return "question";
	case 12: return "exchange";
	case 100: return "integrity";
	default: return "event";
	}
}

void cli_json_who(FILE *f, const char *key, const bc_talk_info *info,
		  const uint8_t id[BC_E2E_ID_LEN])
{
	const bc_talk_member *m = cli_member_of(info, id);
	fprintf(f, "\"%s\":", key);
	json_hex(f, id, BC_E2E_ID_LEN);
	if (m != NULL) {
		const char *r = cli_name_or(bc_talk_role_name(m->role), "?");
		fprintf(f, ",\"%s_role\":", key);
		json_str(f, r, strlen(r));
		fprintf(f, ",\"%s_side\":", key);
		json_str(f, m->side, strlen(m->side));
	}
}

int cli_relay_lookup(struct cli_talks *c, const char *s, char *out,
		     size_t cap)
{
	uint8_t *v = NULL;
	size_t n = 0;
	int rc;
	if (strchr(s, ':') != NULL) { /* an address */
		if (strlen(s) >= cap)
			return BC_ERR_TOOBIG;
		memcpy(out, s, strlen(s) + 1);
		return BC_OK;
	}
	rc = bc_store_get(c->st, "relayname", (const uint8_t *)s, strlen(s),
			  &v, &n);
	if (rc == BC_ERR_NOTFOUND)
		cli_err("no relay is named '%s' (see 'backchannel relay list'; "
			"an address is HOST:PORT/bck:KEY)",
			s);
	else if (rc != BC_OK)
		cli_err("cannot look up relay '%s': %s", s, bc_strerror(rc));
	else if (n >= cap)
		rc = BC_ERR_TOOBIG;
	else {
		memcpy(out, v, n);
		out[n] = '\0';
	}
	bc_free(v);
	return rc;
}

int cli_talk_arg(struct cli_talks *c, const char *s,
		 uint8_t id[BC_TALK_ID_LEN], bc_talk_info *info)
{
	int rc;
	if ((rc = cli_talks_open(c)) != BC_OK)
		return rc;
	if ((rc = cli_find_talk(c, s, id)) == BC_OK && info != NULL &&
	    (rc = bc_talk_get(c->t, id, info)) != BC_OK)
		cli_err("cannot read talk '%s': %s", s, bc_strerror(rc));
	if (rc != BC_OK)
		cli_talks_close(c);
	return rc;
}

void cli_print_event(const bc_talk_info *info, const bc_talk_event *ev)
{
	cli_print_time(stdout, ev->time);
	printf(" %s ", cli_kind_name(ev->kind));
	if (ev->kind == 3 || ev->kind == 5 || ev->kind == 6) {
		/* the statement's id, for 'backchannel relay' */
		fputc('#', stdout);
		cli_print_hex(stdout, ev->msg_id, 4);
		fputc(' ', stdout);
	}
	cli_print_who(stdout, info, ev->from);
	if (ev->kind == 3) {
		printf(" %s", cli_name_or(bc_talk_audience_name(ev->audience), "?"));
		if (ev->audience == BC_AUD_DIRECT) {
			for (size_t i = 0; i < ev->nto; i++) {
				fputc(i == 0 ? '(' : ',', stdout);
				cli_print_who(stdout, info, ev->to[i]);
			}
			if (ev->nto > 0)
				fputc(')', stdout);
		}
		printf(" %s", ev->label == BC_LABEL_NONE
				      ? "-"
				      : cli_name_or(bc_talk_label_name(ev->label),
						"?"));
	} else {
		fputs(" - -", stdout);
	}
	fputc(' ', stdout);
	cli_print_safe(stdout, ev->text ? ev->text : "");
	fputc('\n', stdout);
}

void cli_print_event_json(const bc_talk_info *info, const bc_talk_event *ev,
			     bool first)
{
	const bc_talk_member *m = cli_member_of(info, ev->from);
	printf("%s{\"talk\":", first ? "" : ",");
	json_hex(stdout, info->id, BC_TALK_ID_LEN);
	printf(",\"time\":%llu,\"kind\":", (unsigned long long)ev->time);
	json_str(stdout, cli_kind_name(ev->kind), strlen(cli_kind_name(ev->kind)));
	printf(",\"statement\":");
	json_hex(stdout, ev->msg_id, 16);
	printf(",\"from\":");
	json_hex(stdout, ev->from, BC_E2E_ID_LEN);
	if (m != NULL) {
		const char *r = cli_name_or(bc_talk_role_name(m->role), "?");
		printf(",\"from_role\":");
		json_str(stdout, r, strlen(r));
		printf(",\"from_side\":");
		json_str(stdout, m->side, strlen(m->side));
	}
	if (ev->kind == 3) {
		const char *a = cli_name_or(bc_talk_audience_name(ev->audience), "?");
		const char *l = ev->label == BC_LABEL_NONE
					? ""
					: cli_name_or(bc_talk_label_name(ev->label),
						  "?");
		printf(",\"audience\":");
		json_str(stdout, a, strlen(a));
		printf(",\"label\":");
		json_str(stdout, l, strlen(l));
		printf(",\"to\":[");
		for (size_t i = 0; i < ev->nto; i++) {
			if (i > 0)
				fputc(',', stdout);
			json_hex(stdout, ev->to[i], BC_E2E_ID_LEN);
		}
		fputc(']', stdout);
	}
	printf(",\"text\":");
	json_str(stdout, ev->text ? ev->text : "",
		 ev->text ? strlen(ev->text) : 0);
	fputc('}', stdout);
}

/* Resolve "fp,fp,..." (hex prefixes) against the talk's members. */
int cli_resolve_members(const bc_talk_info *info, const uint8_t *self,
			  const char *list, uint8_t (*to)[BC_E2E_ID_LEN],
			  size_t *nto)
{
	char hex[2 * BC_E2E_ID_LEN + 1];
	const char *p = list;
	*nto = 0;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		const bc_talk_member *hit = NULL;
		bool named;
		if (len == 0 || len > BC_TALK_SIDE_MAX) {
			cli_err("expected members (a side such as 'US', "
				"'mediator', or a fingerprint prefix) "
				"separated by commas");
			return BC_ERR_INVALID;
		}
		/* a side label or a role, when exactly one member has it */
		for (size_t i = 0; i < info->nmembers; i++) {
			const bc_talk_member *m = &info->members[i];
			const char *role = bc_talk_role_name(m->role);
			if ((strlen(m->side) == len &&
			     strncasecmp(m->side, p, len) == 0) ||
			    (role != NULL && strlen(role) == len &&
			     strncasecmp(role, p, len) == 0)) {
				if (hit != NULL) {
					cli_err("'%.*s' names more than one "
						"member: use a fingerprint "
						"prefix",
						(int)len, p);
					return BC_ERR_INVALID;
				}
				hit = m;
			}
		}
		named = hit != NULL;
		if (hit == NULL &&
		    strspn(p, "0123456789abcdefABCDEF") < len) {
			cli_err("no member of this talk is '%.*s' (see "
				"'backchannel talk show')",
				(int)len, p);
			return BC_ERR_NOTFOUND;
		}
		for (size_t i = 0; !named && i < info->nmembers; i++) {
			if (len > 2 * BC_E2E_ID_LEN)
				break;
			if (bc_hex_encode(info->members[i].id, BC_E2E_ID_LEN,
					  hex, sizeof(hex)) != BC_OK)
				return BC_ERR_INTERNAL;
			if (strncasecmp(hex, p, len) != 0)
				continue;
			if (hit != NULL) {
				cli_err("'%.*s' matches more than one member: "
					"give more digits",
					(int)len, p);
				return BC_ERR_INVALID;
			}
			hit = &info->members[i];
		}
		if (hit == NULL) {
			cli_err("no member of this talk has a fingerprint "
				"starting with '%.*s' (see 'backchannel talk "
				"show')",
				(int)len, p);
			return BC_ERR_NOTFOUND;
		}
		/* the author always reads what it says: not a recipient */
		if (memcmp(hit->id, self, BC_E2E_ID_LEN) == 0)
			hit = NULL;
		for (size_t i = 0; hit != NULL && i < *nto; i++)
			if (memcmp(to[i], hit->id, BC_E2E_ID_LEN) == 0)
				hit = NULL;
		if (hit != NULL) {
			if (*nto == BC_TALK_MAX_MEMBERS)
				return BC_ERR_INVALID;
			memcpy(to[(*nto)++], hit->id, BC_E2E_ID_LEN);
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (*nto == 0) {
		cli_err("--direct needs at least one member other than you");
		return BC_ERR_INVALID;
	}
	return BC_OK;
}

