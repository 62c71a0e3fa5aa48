/* admission.c: the sandbox's one validating admission rule, driven by a fault (faults.h, denyLabel): an
 * update of an object carrying that label key, before or after the update, is refused with 422 Invalid
 * and the message a ValidatingAdmissionPolicy with an objectSelector on that label would give (checked
 * against kube-apiserver v1.34: reason Invalid, `<resource> "<name>" is forbidden: ValidatingAdmissionPolicy
 * '<policy>' with binding '<binding>' denied request: <message>`). It applies to unchanged updates too, so
 * a rewrite meets it as it would meet a webhook or policy on a real cluster. */
#include <string.h>

#include "apiserver.h"
#include "faults.h"

static int labelled(json_t *obj, const char *key)
{
	json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	return json_is_object(labels) && json_object_get(labels, key) != NULL;
}

int sbx_admission_update(const sbx_resource *res, const char *name, json_t *old_obj, json_t *new_obj,
                         sbx_apierr *e)
{
	sbx_faults f;
	sbx_faults_get(&f);
	if (!f.deny_label[0] || (!labelled(old_obj, f.deny_label) && !labelled(new_obj, f.deny_label)))
		return 0;
	sbx_apierr_set(
	    e, 422, "Invalid", res, name,
	    "%s%s%s \"%s\" is forbidden: ValidatingAdmissionPolicy 'rekey-sandbox-deny' with binding "
	    "'rekey-sandbox-deny' denied request: objects labelled %s cannot be updated",
	    res->name, *res->group ? "." : "", res->group, name, f.deny_label);
	return -1;
}
