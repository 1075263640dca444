/* Being written: see dis.h / tcb.h / sink.h for the contract. */
extern int tcbs_placeholder_sqlite;
