// One resource that grants an Airflow Deployment's workload identity access in the cloud and creates the Airflow connection that uses it.
package deploymentauthorization
