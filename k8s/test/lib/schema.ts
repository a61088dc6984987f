import * as coreV1 from 'kubernetes-models/v1';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as rbacV1 from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as networkingV1beta1 from '@kubernetes-models/istio/networking.istio.io/v1beta1';
import * as securityV1beta1 from '@kubernetes-models/istio/security.istio.io/v1beta1';
import * as telemetryV1alpha1 from '@kubernetes-models/istio/telemetry.istio.io/v1alpha1';
import * as installV1alpha1 from '@kubernetes-models/istio/install.istio.io/v1alpha1';
import { describe, type K8sObject } from './objects.js';

type ModelClass = new (data: any) => { validate(): void };

/**
 * Where each apiVersion's schema lives. Istio's v1 APIs are not published as schemas by
 * @kubernetes-models/istio; the v1 objects are the v1beta1 (networking, security) and v1alpha1
 * (telemetry) messages under a new version (Istio 1.22 promoted them unchanged), so they are
 * validated against those with the apiVersion swapped.
 */
const schemas: Record<string, { models: Record<string, unknown>; validateAs?: string }> = {
  v1: { models: coreV1 },
  'apps/v1': { models: appsV1 },
  'policy/v1': { models: policyV1 },
  'rbac.authorization.k8s.io/v1': { models: rbacV1 },
  'networking.istio.io/v1': { models: networkingV1beta1, validateAs: 'networking.istio.io/v1beta1' },
  'security.istio.io/v1': { models: securityV1beta1, validateAs: 'security.istio.io/v1beta1' },
  'telemetry.istio.io/v1': { models: telemetryV1alpha1, validateAs: 'telemetry.istio.io/v1alpha1' },
  'install.istio.io/v1alpha1': { models: installV1alpha1 },
};

/** The Istio API versions this repository writes: the current (v1) ones. */
export const currentIstioApiVersions: Record<string, string> = {
  'networking.istio.io': 'networking.istio.io/v1',
  'security.istio.io': 'security.istio.io/v1',
  'telemetry.istio.io': 'telemetry.istio.io/v1',
};

export function schemaProblems(object: K8sObject): string[] {
  const entry = schemas[object.apiVersion];
  if (!entry) return [`${describe(object)}: no schema known for apiVersion ${object.apiVersion}`];
  const Model = entry.models[object.kind] as ModelClass | undefined;
  if (typeof Model !== 'function')
    return [`${describe(object)}: no schema for kind ${object.kind} in ${object.apiVersion}`];
  try {
    new Model({ ...object, apiVersion: entry.validateAs ?? object.apiVersion }).validate();
    return [];
  } catch (error) {
    return [`${describe(object)}: ${(error as Error).message}`];
  }
}

export function apiVersionProblems(object: K8sObject): string[] {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0]! : '';
  const current = currentIstioApiVersions[group];
  if (current && object.apiVersion !== current) {
    return [`${describe(object)}: uses ${object.apiVersion}; write ${current}`];
  }
  return [];
}
