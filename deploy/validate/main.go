// Command validate checks Kubernetes manifests (a multi-document YAML stream on stdin, such as the output
// of `helm template`) against the Kubernetes API types: each document is decoded strictly into its typed
// object through client-go's scheme, so an unknown field, a field of the wrong type, a duplicate field or
// an unknown kind is an error. It then checks what the types cannot: probe and Service ports that name a
// container port, selectors that match their pod template. It prints one line per document and exits 1
// on the first problem.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	var objects []runtime.Object
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail("reading the stream: %v", err)
		}
		if len(bytes.TrimSpace(doc)) == 0 || isOnlyComments(doc) {
			continue
		}
		object, kind, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			fail("%v", err)
		}
		fmt.Printf("ok %s/%s\n", kind.GroupVersion(), kind.Kind)
		objects = append(objects, object)
	}
	if len(objects) == 0 {
		fail("no manifest on stdin")
	}
	for _, object := range objects {
		if deployment, ok := object.(*appsv1.Deployment); ok {
			checkDeployment(deployment, objects)
		}
	}
}

func checkDeployment(d *appsv1.Deployment, objects []runtime.Object) {
	selector, err := metaSelector(d)
	if err != nil {
		fail("deployment %s: %v", d.Name, err)
	}
	if !selector.Matches(labels.Set(d.Spec.Template.Labels)) {
		fail("deployment %s: its selector does not match its pod template's labels", d.Name)
	}
	ports := map[string]bool{}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
		for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
			if probe == nil || probe.HTTPGet == nil {
				fail("deployment %s: container %s has no HTTP %s probe", d.Name, c.Name, name)
			}
			if port := probe.HTTPGet.Port; port.StrVal != "" && !ports[port.StrVal] {
				fail("deployment %s: the %s probe names port %q, which no container port is", d.Name, name, port.StrVal)
			}
		}
	}
	for _, object := range objects {
		if service, ok := object.(*corev1.Service); ok {
			if !labels.SelectorFromSet(service.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
				fail("service %s does not select the pods of deployment %s", service.Name, d.Name)
			}
			for _, p := range service.Spec.Ports {
				if p.TargetPort.StrVal != "" && !ports[p.TargetPort.StrVal] {
					fail("service %s: target port %q is no container port", service.Name, p.TargetPort.StrVal)
				}
			}
		}
	}
}

func metaSelector(d *appsv1.Deployment) (labels.Selector, error) {
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 {
		return nil, errors.New("no selector")
	}
	return labels.SelectorFromSet(d.Spec.Selector.MatchLabels), nil
}

func isOnlyComments(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "invalid: "+format+"\n", args...)
	os.Exit(1)
}
