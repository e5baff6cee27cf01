/*
 * listmerge: merges model lists with jansson.  Names already taken are
 * kept as the keys of a jansson object, a hash table, so a merge of ten
 * boxes of a few hundred models each stays linear.
 */
#include <stdlib.h>

#include <jansson.h>

#include "listmerge.h"

/*
 * Appends to out the entries of the array under list in each body,
 * skipping those keep refuses and, when idkey is set, those whose idkey
 * was seen.  -1 when out of memory.
 */
static int
merge(json_t *out, const struct listmerge_body *b, int n, const char *list,
    const char *idkey, listmerge_keep keep, void *arg)
{
	json_t *doc, *arr, *e, *seen;
	const char *name;
	size_t j;
	int i, rc = 0;

	if ((seen = json_object()) == NULL)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		doc = json_loadb(b[i].text, b[i].len, JSON_REJECT_DUPLICATES,
		    NULL);
		if ((arr = json_object_get(doc, list)) == NULL ||
		    !json_is_array(arr)) {
			json_decref(doc);
			continue;
		}
		json_array_foreach(arr, j, e) {
			name = json_string_value(json_object_get(e,
			    idkey != NULL ? idkey : "name"));
			if (!json_is_object(e) || name == NULL)
				continue;
			if (keep != NULL && !keep(name, arg))
				continue;
			if (idkey != NULL) {
				if (json_object_get(seen, name) != NULL)
					continue;
				if (json_object_set_new(seen, name,
				    json_true()) == -1) {
					rc = -1;
					break;
				}
			}
			if (json_array_append(out, e) == -1) {
				rc = -1;
				break;
			}
		}
		json_decref(doc);
	}
	json_decref(seen);
	return rc;
}

/* {"<list>":[...]} with extra members before it; frees the arrays. */
static char *
answer(const struct listmerge_body *b, int n, const char *list,
    const char *idkey, const char *object, listmerge_keep keep, void *arg)
{
	json_t *root, *arr;
	char *s = NULL;

	root = json_object();
	arr = json_array();
	if (root == NULL || arr == NULL)
		goto done;
	if (object != NULL &&
	    json_object_set_new(root, "object", json_string(object)) == -1)
		goto done;
	if (merge(arr, b, n, list, idkey, keep, arg) == -1 ||
	    json_object_set(root, list, arr) == -1)
		goto done;
	s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
 done:
	json_decref(arr);
	json_decref(root);
	return s;
}

char *
listmerge_tags(const struct listmerge_body *b, int n, listmerge_keep keep,
    void *arg)
{
	return answer(b, n, "models", "name", NULL, keep, arg);
}

char *
listmerge_models(const struct listmerge_body *b, int n, listmerge_keep keep,
    void *arg)
{
	return answer(b, n, "data", "id", "list", keep, arg);
}

char *
listmerge_ps(const struct listmerge_body *b, int n, listmerge_keep keep,
    void *arg)
{
	return answer(b, n, "models", NULL, NULL, keep, arg);
}
