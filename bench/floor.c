/*
 * floor.c - the libpcap read floor: every record read with pcap_next_ex(),
 * its length and first byte touched, nothing else.  No analyzer that reads
 * a capture through libpcap can be faster, so bench/run.sh reports every
 * tool as a multiple of this program's time in the same run.
 *
 *   cc -O2 -o floor bench/floor.c -lpcap && ./floor FILE.pcap
 *
 * Prints "packets N caplen_bytes N"; exit 1 when the file cannot be read.
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *hdr;
    const u_char *data;
    uint64_t packets = 0, bytes = 0, mix = 0;
    pcap_t *p;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.pcap\n", argv[0]);
        return 2;
    }
    if ((p = pcap_open_offline(argv[1], err)) == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
        packets++;
        bytes += hdr->caplen;
        if (hdr->caplen)
            mix += data[0]; /* touch the packet, as any reader must */
    }
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "%s\n", pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    pcap_close(p);
    printf("packets %llu caplen_bytes %llu (%llu)\n", (unsigned long long)packets,
           (unsigned long long)bytes, (unsigned long long)(mix & 1));
    return 0;
}
