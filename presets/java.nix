# Java 21 (OpenJDK) with Maven, Gradle and the Eclipse JDT language server
{ pkgs }:
with pkgs; [
  jdk21
  maven
  gradle
  jdt-language-server
]
