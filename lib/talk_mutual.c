/* talk_mutual.c - placeholder until the tool is wired in (see talk_int.h). */
#include "talk_int.h"

int bc_talk_on_mutual(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		bc_rd *r, bc_talk_event_fn fn, void *ctx)
{
	(void)t; (void)info; (void)m; (void)r; (void)fn; (void)ctx;
	return BC_ERR_MALFORMED;
}
