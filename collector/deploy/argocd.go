package deploy

// argoFixup accepts what an Argo CD notification template most easily
// produces: an operationState phase as status, and no tool label.
func argoFixup(d *Deploy) {
	switch d.Status {
	case "Running":
		d.Status = StatusStarted
	case "Succeeded":
		d.Status = StatusSucceeded
	case "Failed", "Error":
		d.Status = StatusFailed
	}
	if d.Labels["tool"] == "" {
		d.Labels = withLabel(d.Labels, "tool", "argocd")
	}
}
