#!/usr/bin/env bash
# Runs the real Bicep CLI: restores the NuGet package Azure.Bicep.CommandLine.linux-x64 with the .NET SDK
# into .local/bicep/ (git-ignored) on first use, then passes every argument to `bicep`.
# Needs only `dotnet` and NuGet; the package ships a self-contained binary, so no .NET runtime is needed to run it.
set -euo pipefail
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${BICEP_VERSION:-0.49.2}"
cache="$root/.local/bicep/$version"
binary="$cache/packages/azure.bicep.commandline.linux-x64/$version/tools/bicep"
[ -x "$binary" ] || binary="$(find "$cache/packages" -type f -name bicep 2>/dev/null | head -n 1 || true)"

if [ -z "$binary" ] || [ ! -x "$binary" ]; then
  mkdir -p "$cache"
  # A throwaway project whose only job is to download the package (PackageDownload: no reference, no build).
  cat >"$cache/restore.csproj" <<CSPROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net$(dotnet --version | cut -d. -f1).0</TargetFramework>
    <RestorePackagesPath>$cache/packages</RestorePackagesPath>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="Azure.Bicep.CommandLine.linux-x64" Version="[$version]" />
  </ItemGroup>
</Project>
CSPROJ
  dotnet restore "$cache/restore.csproj" --nologo --verbosity quiet >&2
  binary="$(find "$cache/packages" -type f -name bicep | head -n 1)"
  [ -n "$binary" ] || { echo "bicep.sh: the package restored but holds no bicep binary" >&2; exit 1; }
  chmod +x "$binary"
fi

exec "$binary" "$@"
