/* dp_mkpcap.c — builds the dataplane tests' input: a pcap of IPFIX exports
 * (lib/flow/encode.h, canonical templates) from several exporters, where
 * every conversation appears in both directions (A→B early, B→A later, in
 * different packets), optionally with malformed packets from one exporter
 * and a few non-flow frames. Prints what a correct proxy must deliver as
 * JSON on stdout: total records and records per exporter.
 *
 *   dp_mkpcap OUT.pcap [-e EXPORTERS] [-c CONVERSATIONS] [-k PER_PACKET]
 *             [-b BAD_EXPORTER] [-p DST_PORT] [-r ROUNDS]
 *
 * -r repeats the whole export ROUNDS times with shifted timestamps (for the
 * bench: one file, many records). Exporter i sends from 192.0.2.(i+1):
 * (40000+i) to 10.99.0.2:DST_PORT; its templates go in its first packet and
 * every 20th.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/encode.h"
#include "gen/gen.h"
#include "util/addr.h"
#include "util/bytes.h"

static FILE *out;
static uint64_t n_frames;
static uint8_t frame[GEN_FRAME_CAP];

static void pcap_hdr(void)
{
	uint8_t h[24];
	le32_store(h, 0xa1b2c3d4);
	le16_store(h + 4, 2);
	le16_store(h + 6, 4);
	le32_store(h + 8, 0);
	le32_store(h + 12, 0);
	le32_store(h + 16, 65535);
	le32_store(h + 20, 1); /* Ethernet */
	fwrite(h, 1, 24, out);
}

static void pcap_frame(const uint8_t *f, size_t len)
{
	uint8_t h[16];
	le32_store(h, (uint32_t)(1767225600 + n_frames / 1000));
	le32_store(h + 4, (uint32_t)(n_frames % 1000) * 1000);
	le32_store(h + 8, (uint32_t)len);
	le32_store(h + 12, (uint32_t)len);
	fwrite(h, 1, 16, out);
	fwrite(f, 1, len, out);
	n_frames++;
}

struct exp {
	uint8_t addr[16];
	uint16_t sport;
	uint32_t seq;
	uint32_t pkts;
	uint64_t recs;
	struct flow_enc enc;
	uint8_t buf[1500];
	int open;
};

static uint8_t dst_addr[16];
static uint16_t dst_port = 2055;

static void send_udp(struct exp *x, const uint8_t *p, size_t len)
{
	size_t fl = gen_frame_udp(frame, sizeof(frame), x->addr, dst_addr, x->sport, dst_port, p, len);
	if (fl)
		pcap_frame(frame, fl);
}

static void flush_exp(struct exp *x)
{
	if (!x->open)
		return;
	size_t len = flow_enc_finish(&x->enc);
	x->seq += x->enc.records;
	x->recs += x->enc.records;
	send_udp(x, x->buf, len);
	x->open = 0;
	x->pkts++;
}

static void add_rec(struct exp *x, const struct flow_rec *r, uint32_t per_packet)
{
	if (!x->open) {
		flow_enc_begin(&x->enc, x->buf, sizeof(x->buf) - 42 - 20, 7, 1767225600, x->seq);
		if (x->pkts % 20 == 0)
			flow_enc_templates(&x->enc);
		x->open = 1;
	}
	if (flow_enc_add(&x->enc, r, NULL) != 0) {
		flush_exp(x);
		add_rec(x, r, per_packet);
		return;
	}
	if (x->enc.records >= per_packet)
		flush_exp(x);
}

/* Malformed exports of one exporter; none of them carries a record a
 * correct decoder would deliver. */
static void send_bad(struct exp *x, unsigned kind)
{
	uint8_t b[256];
	memset(b, 0xa5, sizeof(b));
	switch (kind % 4) {
	case 0: /* wrong version */
		be16_store(b, 11);
		send_udp(x, b, 64);
		break;
	case 1: /* message length disagrees with the datagram */
		be16_store(b, 10);
		be16_store(b + 2, 200);
		send_udp(x, b, 100);
		break;
	case 2: /* set running past the end of the message */
		be16_store(b, 10);
		be16_store(b + 2, 40);
		be32_store(b + 8, x->seq);
		be32_store(b + 12, 7);
		be16_store(b + 16, 300);
		be16_store(b + 18, 500);
		send_udp(x, b, 40);
		break;
	case 3: /* shorter than a header */
		send_udp(x, b, 6);
		break;
	}
}

static void conv_rec(struct flow_rec *r, uint32_t e, uint32_t c, int reverse, int round)
{
	uint8_t a[16], bb[16];
	uint8_t ex[4] = { 192, 0, 2, (uint8_t)(e + 1) };
	memset(r, 0, sizeof(*r));
	/* the canonical templates carry the exporter (IE 131/217): a decoder
	 * keeps it, so it must be the exporter's own address here */
	addr_set_v4(r->exporter, ex);
	r->exp_port = dst_port;
	if (c % 5 == 4) {
		memset(a, 0, 16);
		memset(bb, 0, 16);
		a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8, a[5] = (uint8_t)e;
		be32_store(a + 12, c);
		bb[0] = 0x20, bb[1] = 0x01, bb[2] = 0x0d, bb[3] = 0xb8, bb[4] = 0xff;
		be32_store(bb + 12, c * 7u + 1);
		r->flags = FLOW_F_IP6;
	} else {
		uint8_t v4a[4] = { 10, (uint8_t)e, (uint8_t)(c >> 8), (uint8_t)c };
		uint8_t v4b[4] = { 172, 16, (uint8_t)(c >> 8), (uint8_t)(c * 3) };
		addr_set_v4(a, v4a);
		addr_set_v4(bb, v4b);
	}
	uint16_t pa = (uint16_t)(1024 + c % 60000), pb = (uint16_t)(c % 3 ? 443 : 53);
	memcpy(reverse ? r->dst_addr : r->src_addr, a, 16);
	memcpy(reverse ? r->src_addr : r->dst_addr, bb, 16);
	r->src_port = reverse ? pb : pa;
	r->dst_port = reverse ? pa : pb;
	r->proto = c % 3 ? 6 : 17;
	r->first_ms = 1767225600000ull + (uint64_t)round * 600000 + c;
	r->last_ms = r->first_ms + 1000;
	r->packets = 1 + c % 17;
	r->bytes = 64 * r->packets;
	r->sampling = 1;
	r->version = 10;
	r->odid = 7;
}

int main(int argc, char **argv)
{
	uint32_t nexp = 4, nconv = 1000, per_packet = 30, rounds = 1;
	int bad = -1, o;

	if (argc < 2) {
		fprintf(stderr, "usage: dp_mkpcap OUT.pcap [-e N] [-c N] [-k N] [-b I] [-p PORT] [-r N]\n");
		return 2;
	}
	const char *path = argv[1];
	optind = 2;
	while ((o = getopt(argc, argv, "e:c:k:b:p:r:")) != -1) {
		switch (o) {
		case 'e': nexp = (uint32_t)atoi(optarg); break;
		case 'c': nconv = (uint32_t)atoi(optarg); break;
		case 'k': per_packet = (uint32_t)atoi(optarg); break;
		case 'b': bad = atoi(optarg); break;
		case 'p': dst_port = (uint16_t)atoi(optarg); break;
		case 'r': rounds = (uint32_t)atoi(optarg); break;
		default: return 2;
		}
	}
	if (nexp < 1 || nexp > 200 || per_packet < 1 || per_packet > 60)
		return 2;
	out = fopen(path, "wb");
	if (!out) {
		perror(path);
		return 1;
	}
	pcap_hdr();
	uint8_t d4[4] = { 10, 99, 0, 2 };
	addr_set_v4(dst_addr, d4);
	struct exp *x = calloc(nexp, sizeof(*x));
	for (uint32_t e = 0; e < nexp; e++) {
		uint8_t v4[4] = { 192, 0, 2, (uint8_t)(e + 1) };
		addr_set_v4(x[e].addr, v4);
		x[e].sport = (uint16_t)(40000 + e);
	}
	/* frames that are not flow exports: counted drops, never records */
	{
		uint8_t arp[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06 };
		pcap_frame(arp, sizeof(arp));
		uint8_t junk[20] = { 0 };
		size_t fl = gen_frame_udp(frame, sizeof(frame), x[0].addr, dst_addr, 5353, 53, junk, 20);
		pcap_frame(frame, fl);
	}
	unsigned nbad = 0;
	for (uint32_t round = 0; round < rounds; round++)
		for (int dir = 0; dir < 2; dir++)
			for (uint32_t c = 0; c < nconv; c++)
				for (uint32_t e = 0; e < nexp; e++) {
					struct flow_rec r;
					conv_rec(&r, e, c, dir, (int)round);
					add_rec(&x[e], &r, per_packet);
					if ((int)e == bad && c % 97 == 0)
						send_bad(&x[e], nbad++);
				}
	uint64_t total = 0;
	for (uint32_t e = 0; e < nexp; e++) {
		flush_exp(&x[e]);
		total += x[e].recs;
	}
	fclose(out);
	printf("{\"records\": %lu, \"frames\": %lu, \"bad_packets\": %u, \"exporters\": {", total,
	       n_frames, nbad);
	for (uint32_t e = 0; e < nexp; e++)
		printf("%s\"192.0.2.%u\": %lu", e ? ", " : "", e + 1, x[e].recs);
	printf("}}\n");
	free(x);
	return 0;
}
