/*
 * roles.h - the roles a member holds in a talk (PROTOCOL.md §16), shared
 * by the talk layer and the building blocks that check who may act.
 */
#ifndef BC_ROLES_H
#define BC_ROLES_H

enum bc_talk_role {
	BC_ROLE_PARTY = 1,    /* a negotiating side, with a side label */
	BC_ROLE_MEDIATOR = 2, /* runs the process; never a party */
	BC_ROLE_OBSERVER = 3, /* reads plenary; may not act */
};

#endif
