# flashgate: a static, non-root image.
#
#   docker build -t flashgate .
#   docker run --rm -p 8080:8080 flashgate
#
# The image runs the gateway with /etc/flashgate/gateway.yaml; mount your
# own rules there (a directory mount keeps hot reload working, since the
# gateway watches directories, as with a Kubernetes ConfigMap).

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/flashgate ./cmd/flashgate
# The repository's gateway.yaml listens on loopback (safe for `go run`); in a
# container the gateway must listen on every interface to be reachable.
RUN mkdir -p /out/etc \
 && sed 's/^  listen: 127\.0\.0\.1:8080$/  listen: 0.0.0.0:8080/' gateway.yaml > /out/etc/gateway.yaml \
 && grep -q '^  listen: 0\.0\.0\.0:8080$' /out/etc/gateway.yaml \
 && cp -r sales /out/etc/sales \
 && /out/flashgate -check -config /out/etc/gateway.yaml

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/flashgate /flashgate
COPY --from=build /out/etc/ /etc/flashgate/
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/flashgate", "-config", "/etc/flashgate/gateway.yaml"]
