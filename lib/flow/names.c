/* names.c — names and descriptions of the decoder's drop counters. */
#include "flow.h"

static const char *const drop_names[FLOW_DROP_MAX] = {
#define N(n, d) #n,
	FLOW_DROP_LIST(N)
#undef N
};

static const char *const drop_descs[FLOW_DROP_MAX] = {
#define D(n, d) d,
	FLOW_DROP_LIST(D)
#undef D
};

const char *flow_drop_name(enum flow_drop d)
{
	return (unsigned)d < FLOW_DROP_MAX ? drop_names[d] : "unknown";
}

const char *flow_drop_desc(enum flow_drop d)
{
	return (unsigned)d < FLOW_DROP_MAX ? drop_descs[d] : "unknown";
}
