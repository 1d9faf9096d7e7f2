/* An intrusive doubly linked list (after the Linux kernel's list.h): the
 * links live inside the listed objects, so adding and removing allocate
 * nothing and cannot fail. A list is a struct gw_list head, circular
 * (empty: head->next == head). Not thread-safe: the owner of the list
 * serialises access. Header only. */
#ifndef GW_LIST_H
#define GW_LIST_H

#include <stddef.h>

struct gw_list {
    struct gw_list *prev, *next;
};

/* Makes h an empty list (also usable on a link: "not in any list"). */
static inline void gw_list_init(struct gw_list *h)
{
    h->prev = h->next = h;
}

static inline int gw_list_empty(const struct gw_list *h)
{
    return h->next == h;
}

/* Adds n at the front of h. n must not be in a list. */
static inline void gw_list_push(struct gw_list *h, struct gw_list *n)
{
    n->prev = h;
    n->next = h->next;
    h->next->prev = n;
    h->next = n;
}

/* Unlinks n from its list and makes it a lone link (unlinking again is a
 * no-op). */
static inline void gw_list_remove(struct gw_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* The object holding link p as its member. */
#define gw_list_entry(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

#endif
